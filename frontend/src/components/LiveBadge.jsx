// Connection state of a live stream: a quiet "Live" dot, or a visible "Reconnecting" badge.
export function LiveBadge({ state, paused = false }) {
  if (paused) {
    return (
      <span data-testid="live-badge" data-state="paused" className="inline-flex items-center gap-1.5 rounded-full bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-600">
        <span className="size-1.5 rounded-full bg-slate-400" aria-hidden /> Paused
      </span>
    )
  }
  if (state === 'open') {
    return (
      <span data-testid="live-badge" data-state="open" className="inline-flex items-center gap-1.5 rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-medium text-emerald-700">
        <span className="size-1.5 animate-pulse rounded-full bg-emerald-500" aria-hidden /> Live
      </span>
    )
  }
  const label = state === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'
  return (
    <span role="status" data-testid="live-badge" data-state={state} className="inline-flex items-center gap-1.5 rounded-full bg-amber-50 px-2 py-0.5 text-xs font-medium text-amber-700">
      <span className="size-1.5 animate-pulse rounded-full bg-amber-500" aria-hidden /> {label}
    </span>
  )
}
