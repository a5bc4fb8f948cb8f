import { Suspense } from 'react'
import { Navigate, Outlet, useLocation } from 'react-router'
import { Sidebar } from './Sidebar.jsx'
import { Skeleton } from './Skeleton.jsx'
import { useSession } from '../lib/session.js'

export function PageSkeleton() {
  return (
    <div aria-busy="true" aria-label="Loading page">
      <Skeleton className="mb-6 h-7 w-48" />
      <div className="grid grid-cols-3 gap-4">
        <Skeleton className="h-24" />
        <Skeleton className="h-24" />
        <Skeleton className="h-24" />
      </div>
      <Skeleton className="mt-6 h-72" />
    </div>
  )
}

// The signed-in frame: fixed sidebar + content. Anonymous visitors go to /login.
export function AppLayout() {
  const session = useSession()
  const location = useLocation()

  if (session.isLoading) {
    return (
      <div className="grid min-h-screen place-items-center">
        <Skeleton className="h-8 w-40" />
      </div>
    )
  }
  if (!session.data?.user) {
    if (session.data?.pending?.includes('verify_email')) return <Navigate to="/account/verify-email" replace />
    const next = location.pathname + location.search
    return <Navigate to={next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`} replace />
  }
  return (
    <div className="min-h-screen">
      <Sidebar user={session.data.user} />
      <main className="pl-60">
        <div className="mx-auto max-w-[1200px] px-6 py-7 lg:px-8">
          <Suspense fallback={<PageSkeleton />}>
            <Outlet />
          </Suspense>
        </div>
      </main>
    </div>
  )
}
