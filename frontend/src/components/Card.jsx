export function Card({ className = '', children, ...props }) {
  return (
    <section className={`rounded-lg border border-slate-200 bg-white ${className}`} {...props}>
      {children}
    </section>
  )
}

export function CardHeader({ title, description, actions }) {
  return (
    <div className="flex items-start justify-between gap-4 border-b border-slate-200 px-5 py-4">
      <div>
        <h2 className="text-[15px] font-semibold text-slate-900">{title}</h2>
        {description && <p className="mt-0.5 text-sm text-slate-500">{description}</p>}
      </div>
      {actions && <div className="flex items-center gap-2">{actions}</div>}
    </div>
  )
}
