import { Link } from 'react-router'
import { ShieldCheck, UsersRound } from 'lucide-react'
import { Card, CardHeader } from '../../components/Card.jsx'
import { PageHeader } from '../../components/PageHeader.jsx'
import { Skeleton } from '../../components/Skeleton.jsx'
import { Badge } from '../../components/StatusPill.jsx'
import { FormError } from '../../components/Field.jsx'
import { fmtDateTime } from '../../lib/format.js'
import { useMe } from '../../lib/session.js'

export default function Users() {
  const me = useMe()
  const u = me.data
  return (
    <>
      <PageHeader title="Users" description="Everyone manages their own proxies; roles are coming later." />
      <div className="space-y-6">
        <Card>
          <CardHeader title="Your account" actions={<Link to="/settings#profile" className="text-sm font-medium text-accent hover:underline">Edit profile</Link>} />
          {me.isLoading ? (
            <div className="p-5"><Skeleton className="h-16" /></div>
          ) : me.isError ? (
            <div className="p-5"><FormError message={me.error.message} /></div>
          ) : (
            <div className="flex items-center gap-4 p-5" data-testid="user-self">
              <div className="grid size-11 place-items-center rounded-full bg-accent-50 text-base font-semibold text-accent-700 uppercase" aria-hidden>
                {(u.name || u.email || '?').slice(0, 1)}
              </div>
              <div className="min-w-0 flex-1">
                <p className="flex items-center gap-2 font-medium text-slate-900">
                  {u.name || u.email}
                  {u.is_staff ? <Badge tone="accent"><ShieldCheck className="mr-1 size-3" aria-hidden />Staff</Badge> : <Badge>Member</Badge>}
                </p>
                <p className="text-sm text-slate-500">{u.email}</p>
              </div>
              <div className="text-right text-sm">
                <p className="text-xs text-slate-500">Joined</p>
                <p className="text-slate-700 tabular">{fmtDateTime(u.date_joined)}</p>
              </div>
            </div>
          )}
        </Card>
        <Card>
          <div className="flex items-start gap-3 p-5">
            <UsersRound className="mt-0.5 size-5 text-slate-400" aria-hidden />
            <div>
              <h2 className="text-sm font-semibold text-slate-900">Teams and roles</h2>
              <p className="mt-0.5 text-sm text-slate-500">
                Today every account sees only its own proxies, logs and tokens. Shared proxies and roles will appear here.
              </p>
            </div>
          </div>
        </Card>
      </div>
    </>
  )
}
