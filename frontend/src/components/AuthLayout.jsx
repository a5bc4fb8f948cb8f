import { Suspense } from 'react'
import { Link, Outlet } from 'react-router'
import { DuckMark } from './DuckMark.jsx'
import { Skeleton } from './Skeleton.jsx'

// Auth screens: a centred card on the canvas.
export function AuthLayout() {
  return (
    <div className="flex min-h-screen flex-col items-center justify-center px-4 py-12">
      <Link to="/login" className="mb-6 flex items-center gap-2.5 rounded-md">
        <DuckMark className="size-8" />
        <span className="text-lg font-semibold tracking-tight text-slate-900">Rubberduck</span>
      </Link>
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-xs">
        <Suspense fallback={<Skeleton className="h-64" />}>
          <Outlet />
        </Suspense>
      </div>
    </div>
  )
}

export function AuthTitle({ title, subtitle }) {
  return (
    <div className="mb-5">
      <h1 className="text-xl font-semibold tracking-tight text-slate-900">{title}</h1>
      {subtitle && <p className="mt-1 text-sm text-slate-500">{subtitle}</p>}
    </div>
  )
}
