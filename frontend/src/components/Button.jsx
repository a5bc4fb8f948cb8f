import { forwardRef } from 'react'
import { Loader2 } from 'lucide-react'

const VARIANTS = {
  primary:
    'bg-accent text-white shadow-xs hover:bg-accent-600 disabled:bg-accent/60 border border-transparent',
  secondary:
    'bg-white text-slate-700 border border-slate-300 shadow-xs hover:bg-slate-50 disabled:text-slate-400',
  danger: 'bg-red-600 text-white border border-transparent shadow-xs hover:bg-red-700 disabled:bg-red-300',
  ghost: 'text-slate-600 border border-transparent hover:bg-slate-100 hover:text-slate-900 disabled:text-slate-300',
}
const SIZES = {
  sm: 'h-7 px-2.5 text-[13px] gap-1.5',
  md: 'h-8 px-3 text-sm gap-2',
  icon: 'size-7 justify-center',
}

export const Button = forwardRef(function Button(
  { variant = 'secondary', size = 'md', loading = false, className = '', children, disabled, type = 'button', ...props },
  ref,
) {
  return (
    <button
      ref={ref}
      type={type}
      disabled={disabled || loading}
      aria-busy={loading || undefined}
      className={`inline-flex shrink-0 items-center rounded-md font-medium whitespace-nowrap transition-colors disabled:cursor-not-allowed ${VARIANTS[variant]} ${SIZES[size]} ${className}`}
      {...props}
    >
      {loading && <Loader2 className="size-3.5 animate-spin" aria-hidden />}
      {children}
    </button>
  )
})

export function IconButton({ label, children, className = '', ...props }) {
  return (
    <Button variant="ghost" size="icon" aria-label={label} title={label} className={className} {...props}>
      {children}
    </Button>
  )
}
