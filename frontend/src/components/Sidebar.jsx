import { NavLink, useNavigate } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import { LayoutDashboard, Server, ScrollText, Settings, Users, LogOut } from 'lucide-react'
import { DuckMark } from './DuckMark.jsx'
import { auth } from '../lib/api.js'
import { useMe } from '../lib/session.js'
import { useToast } from '../lib/toast.jsx'

const NAV = [
  { to: '/', label: 'Dashboard', icon: LayoutDashboard, end: true },
  { to: '/proxies', label: 'Proxies', icon: Server },
  { to: '/logs', label: 'Logs', icon: ScrollText },
  { to: '/settings', label: 'Settings', icon: Settings },
  { to: '/users', label: 'Users', icon: Users },
]

export function Sidebar({ user }) {
  const me = useMe()
  const qc = useQueryClient()
  const navigate = useNavigate()
  const toast = useToast()
  const email = me.data?.email || user?.email || ''
  const name = me.data?.name || user?.display || email

  const signOut = async () => {
    try {
      await auth.logout()
    } catch (e) {
      toast.error(e.message)
      return
    }
    qc.clear()
    qc.setQueryData(['session'], { user: null, pending: [] })
    navigate('/login', { replace: true })
  }

  return (
    <aside className="fixed inset-y-0 left-0 z-30 flex w-60 flex-col border-r border-slate-200 bg-white">
      <div className="flex h-14 items-center gap-2.5 px-5">
        <DuckMark className="size-7" />
        <span className="text-[15px] font-semibold tracking-tight text-slate-900">Rubberduck</span>
      </div>
      <nav aria-label="Main" className="flex-1 space-y-0.5 px-3 py-3">
        {NAV.map(({ to, label, icon: Icon, end }) => (
          <NavLink
            key={to}
            to={to}
            end={end}
            data-testid={`nav-${label.toLowerCase()}`}
            className={({ isActive }) =>
              `flex items-center gap-2.5 rounded-md px-2.5 py-1.5 text-sm font-medium transition-colors ${
                isActive ? 'bg-accent-50 text-accent-700' : 'text-slate-600 hover:bg-slate-100 hover:text-slate-900'
              }`
            }
          >
            <Icon className="size-4" aria-hidden />
            {label}
          </NavLink>
        ))}
      </nav>
      <div className="border-t border-slate-200 p-3">
        <div className="flex items-center gap-2.5 rounded-md px-2 py-1.5">
          <div className="grid size-7 shrink-0 place-items-center rounded-full bg-slate-200 text-xs font-semibold text-slate-700 uppercase" aria-hidden>
            {(name || '?').slice(0, 1)}
          </div>
          <div className="min-w-0 flex-1">
            <p className="truncate text-sm font-medium text-slate-900" data-testid="account-name">{name}</p>
            {name !== email && <p className="truncate text-xs text-slate-500">{email}</p>}
          </div>
          <button
            type="button"
            onClick={signOut}
            data-testid="sign-out"
            aria-label="Sign out"
            title="Sign out"
            className="rounded p-1.5 text-slate-500 hover:bg-slate-100 hover:text-slate-900"
          >
            <LogOut className="size-4" />
          </button>
        </div>
      </div>
    </aside>
  )
}
