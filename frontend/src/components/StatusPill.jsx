const STYLES = {
  running: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20',
  stopped: 'bg-slate-100 text-slate-600 ring-slate-500/20',
  starting: 'bg-amber-50 text-amber-700 ring-amber-600/20',
  stopping: 'bg-amber-50 text-amber-700 ring-amber-600/20',
  error: 'bg-red-50 text-red-700 ring-red-600/20',
}
const DOTS = {
  running: 'bg-emerald-500',
  stopped: 'bg-slate-400',
  starting: 'bg-amber-500 animate-pulse',
  stopping: 'bg-amber-500 animate-pulse',
  error: 'bg-red-500',
}
const LABELS = { running: 'Running', stopped: 'Stopped', starting: 'Starting', stopping: 'Stopping', error: 'Error' }

export function StatusPill({ status, testId, title }) {
  const s = STYLES[status] ? status : 'stopped'
  return (
    <span
      data-testid={testId}
      data-status={status}
      title={title}
      className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STYLES[s]}`}
    >
      <span className={`size-1.5 rounded-full ${DOTS[s]}`} aria-hidden />
      {LABELS[status] || status}
    </span>
  )
}

export function Badge({ children, tone = 'slate' }) {
  const tones = {
    slate: 'bg-slate-100 text-slate-700',
    green: 'bg-emerald-50 text-emerald-700',
    amber: 'bg-amber-50 text-amber-700',
    red: 'bg-red-50 text-red-700',
    accent: 'bg-accent-50 text-accent-700',
  }
  return <span className={`inline-flex items-center rounded px-1.5 py-0.5 text-xs font-medium ${tones[tone]}`}>{children}</span>
}
