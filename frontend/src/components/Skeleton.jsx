export function Skeleton({ className = '' }) {
  return <div aria-hidden className={`animate-pulse rounded bg-slate-200/70 ${className}`} />
}

export function SkeletonRows({ rows = 5, className = '' }) {
  return (
    <div className={`divide-y divide-slate-100 ${className}`} aria-busy="true" aria-label="Loading">
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} className="flex items-center gap-4 px-5 py-3">
          <Skeleton className="h-4 w-40" />
          <Skeleton className="h-4 w-20" />
          <Skeleton className="h-4 w-16" />
          <Skeleton className="ml-auto h-4 w-24" />
        </div>
      ))}
    </div>
  )
}
