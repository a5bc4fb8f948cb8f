import { useState } from 'react'
import { useQuery } from '@tanstack/react-query'
import { Plus, Server } from 'lucide-react'
import { Button } from '../../components/Button.jsx'
import { Card } from '../../components/Card.jsx'
import { EmptyState } from '../../components/EmptyState.jsx'
import { LiveBadge } from '../../components/LiveBadge.jsx'
import { PageHeader } from '../../components/PageHeader.jsx'
import { SkeletonRows } from '../../components/Skeleton.jsx'
import { FormError } from '../../components/Field.jsx'
import { api } from '../../lib/api.js'
import { useProviders } from '../../lib/session.js'
import { ProxyForm } from './ProxyForm.jsx'
import { ProxyRow } from './ProxyRow.jsx'
import { useLiveCounts } from './useLiveCounts.js'

export const proxiesQuery = {
  queryKey: ['proxies'],
  queryFn: () => api.proxies(),
  // Poll quickly while something is in transition, slowly otherwise.
  refetchInterval: (q) =>
    (q.state.data || []).some((p) => p.status === 'starting' || p.status === 'stopping') ? 1500 : 10000,
}

export default function Proxies() {
  const proxies = useQuery(proxiesQuery)
  const providers = useProviders()
  const { counts, state } = useLiveCounts()
  const [panel, setPanel] = useState({ open: false, proxy: null })
  const providerName = (id) => (providers.data || []).find((p) => p.id === id)?.name || id

  const list = proxies.data || []
  const openNew = () => setPanel({ open: true, proxy: null })

  return (
    <>
      <PageHeader
        title="Proxies"
        description="Local endpoints that cache, record and disturb calls to LLM providers."
        slot={list.length > 0 && <LiveBadge state={state} />}
        actions={
          <Button variant="primary" onClick={openNew} data-testid="new-proxy">
            <Plus className="size-4" aria-hidden /> New proxy
          </Button>
        }
      />
      <Card className="overflow-hidden">
        {proxies.isLoading ? (
          <SkeletonRows rows={4} />
        ) : proxies.isError ? (
          <div className="p-5">
            <FormError message={`Could not load proxies: ${proxies.error.message}`} />
          </div>
        ) : list.length === 0 ? (
          <EmptyState
            icon={Server}
            title="No proxies yet"
            action={
              <Button variant="primary" onClick={openNew} data-testid="empty-new-proxy">
                <Plus className="size-4" aria-hidden /> Create your first proxy
              </Button>
            }
          >
            Create one and point your SDK's base URL at it — responses get cached, and you can inject failures.
          </EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table className="w-full text-[13px]" data-testid="proxy-table">
              <thead className="border-b border-slate-200 bg-slate-50/60 text-left text-xs font-medium whitespace-nowrap text-slate-500">
                <tr>
                  <th scope="col" className="px-5 py-2.5 font-medium">Name</th>
                  <th scope="col" className="px-3 py-2.5 font-medium">Provider</th>
                  <th scope="col" className="px-3 py-2.5 text-right font-medium">Port</th>
                  <th scope="col" className="px-3 py-2.5 font-medium">Status</th>
                  <th scope="col" className="px-3 py-2.5 text-right font-medium">Req/min</th>
                  <th scope="col" className="px-3 py-2.5 text-right font-medium">Hit rate</th>
                  <th scope="col" className="hidden px-3 py-2.5 font-medium xl:table-cell">Base URL</th>
                  <th scope="col" className="px-5 py-2.5 text-right font-medium"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {list.map((p) => (
                  <ProxyRow
                    key={p.id}
                    proxy={p}
                    providerName={providerName(p.provider)}
                    live={counts[String(p.id)] || counts[p.name]}
                    onEdit={() => setPanel({ open: true, proxy: p })}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <ProxyForm open={panel.open} proxy={panel.proxy} onClose={() => setPanel((s) => ({ ...s, open: false }))} />
    </>
  )
}
