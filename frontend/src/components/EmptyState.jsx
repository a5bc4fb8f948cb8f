export function EmptyState({ icon: Icon, title, children, action, testId = 'empty-state' }) {
  return (
    <div data-testid={testId} className="flex flex-col items-center px-6 py-14 text-center">
      {Icon && (
        <div className="mb-3 grid size-10 place-items-center rounded-full bg-accent-50 text-accent">
          <Icon className="size-5" aria-hidden />
        </div>
      )}
      <h3 className="text-sm font-semibold text-slate-900">{title}</h3>
      {children && <p className="mt-1 max-w-sm text-sm text-slate-500">{children}</p>}
      {action && <div className="mt-4">{action}</div>}
    </div>
  )
}
