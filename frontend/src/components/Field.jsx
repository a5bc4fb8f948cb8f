import { useId } from 'react'

const control =
  'block w-full rounded-md border bg-white px-2.5 text-sm text-slate-900 shadow-xs placeholder:text-slate-400 disabled:bg-slate-50 disabled:text-slate-500'
const okBorder = 'border-slate-300'
const badBorder = 'border-red-400'

function Wrap({ id, label, hint, error, children, className = '' }) {
  return (
    <div className={className}>
      {label && (
        <label htmlFor={id} className="mb-1 block text-[13px] font-medium text-slate-700">
          {label}
        </label>
      )}
      {children}
      {error ? (
        <p id={`${id}-error`} className="mt-1 text-[13px] text-red-600" data-testid="field-error">
          {error}
        </p>
      ) : (
        hint && (
          <p id={`${id}-hint`} className="mt-1 text-[13px] text-slate-500">
            {hint}
          </p>
        )
      )}
    </div>
  )
}

function aria(id, error, hint) {
  return {
    'aria-invalid': error ? true : undefined,
    'aria-describedby': error ? `${id}-error` : hint ? `${id}-hint` : undefined,
  }
}

export function TextField({ label, hint, error, className, inputClassName = '', id: given, ...props }) {
  const auto = useId()
  const id = given || auto
  return (
    <Wrap id={id} label={label} hint={hint} error={error} className={className}>
      <input
        id={id}
        className={`${control} h-8 ${error ? badBorder : okBorder} ${inputClassName}`}
        {...aria(id, error, hint)}
        {...props}
      />
    </Wrap>
  )
}

export function TextArea({ label, hint, error, className, id: given, ...props }) {
  const auto = useId()
  const id = given || auto
  return (
    <Wrap id={id} label={label} hint={hint} error={error} className={className}>
      <textarea
        id={id}
        rows={3}
        className={`${control} py-1.5 ${error ? badBorder : okBorder}`}
        {...aria(id, error, hint)}
        {...props}
      />
    </Wrap>
  )
}

export function SelectField({ label, hint, error, className, children, id: given, ...props }) {
  const auto = useId()
  const id = given || auto
  return (
    <Wrap id={id} label={label} hint={hint} error={error} className={className}>
      <select id={id} className={`${control} h-8 pr-8 ${error ? badBorder : okBorder}`} {...aria(id, error, hint)} {...props}>
        {children}
      </select>
    </Wrap>
  )
}

export function CheckboxField({ label, hint, className = '', id: given, ...props }) {
  const auto = useId()
  const id = given || auto
  return (
    <div className={`flex items-start gap-2 ${className}`}>
      <input id={id} type="checkbox" className="mt-0.5 size-4 rounded border-slate-300 accent-accent" {...props} />
      <div>
        <label htmlFor={id} className="text-sm font-medium text-slate-700">
          {label}
        </label>
        {hint && <p className="text-[13px] text-slate-500">{hint}</p>}
      </div>
    </div>
  )
}

export function FormError({ message }) {
  if (!message) return null
  return (
    <div role="alert" data-testid="form-error" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
      {message}
    </div>
  )
}
