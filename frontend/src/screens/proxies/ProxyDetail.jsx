import { useState } from 'react'
import { Link, useNavigate, useParams, useSearchParams } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { AlertCircle, ChevronLeft } from 'lucide-react'
import { Card, CardHeader } from '../../components/Card.jsx'
import { CopyButton } from '../../components/CopyButton.jsx'
import { FormError } from '../../components/Field.jsx'
import { PageSkeleton } from '../../components/AppLayout.jsx'
import { StatusPill, Badge } from '../../components/StatusPill.jsx'
import { api } from '../../lib/api.js'
import { useProviders } from '../../lib/session.js'
import { CacheEntries } from './CacheEntries.jsx'
import { CacheMode } from './CacheMode.jsx'
import { Coverage } from './Coverage.jsx'
import { FailureEditor } from './FailureEditor.jsx'
import { ProxyActions } from './ProxyActions.jsx'
import { ProxyForm } from './ProxyForm.jsx'
import { sdkSnippet } from './snippets.js'

const TABS = [
  { id: 'overview', label: 'Overview' },
  { id: 'cache', label: 'Cache' },
]

// The page's sections; the open one is in the URL (?tab=cache), so it survives a reload and can be linked.
function Tabs({ current, onChange }) {
  return (
    <div role="tablist" aria-label="Proxy sections" className="flex gap-5 border-b border-slate-200">
      {TABS.map((t) => (
        <button
          key={t.id}
          type="button"
          role="tab"
          aria-selected={current === t.id}
          onClick={() => onChange(t.id)}
          data-testid={`tab-${t.id}`}
          className={`-mb-px border-b-2 px-0.5 pb-2.5 text-sm font-medium transition-colors ${
            current === t.id ? 'border-accent text-accent' : 'border-transparent text-slate-500 hover:border-slate-300 hover:text-slate-800'
          }`}
        >
          {t.label}
        </button>
      ))}
    </div>
  )
}

function Info({ label, children }) {
  return (
    <div>
      <dt className="text-xs font-medium text-slate-500">{label}</dt>
      <dd className="mt-0.5 text-sm text-slate-900">{children}</dd>
    </div>
  )
}

export default function ProxyDetail() {
  const { id } = useParams()
  const navigate = useNavigate()
  const providers = useProviders()
  const [editing, setEditing] = useState(false)
  const [search, setSearch] = useSearchParams()
  const tab = TABS.some((t) => t.id === search.get('tab')) ? search.get('tab') : 'overview'
  const openTab = (id) => setSearch(id === 'overview' ? {} : { tab: id }, { replace: true })
  const query = useQuery({
    queryKey: ['proxy', id],
    queryFn: () => api.proxy(id),
    refetchInterval: (q) => (['starting', 'stopping'].includes(q.state.data?.status) ? 1500 : 10000),
  })

  if (query.isLoading) return <PageSkeleton />
  if (query.isError)
    return (
      <div className="space-y-4">
        <Link to="/proxies" className="inline-flex items-center gap-1 text-sm text-slate-500 hover:text-slate-900"><ChevronLeft className="size-4" /> Proxies</Link>
        <FormError message={query.error.status === 404 ? 'This proxy does not exist, or it is not yours.' : query.error.message} />
      </div>
    )

  const p = query.data
  const provider = (providers.data || []).find((x) => x.id === p.provider)
  const snippet = sdkSnippet(p.provider, p.base_url)

  return (
    <div className="space-y-6" data-testid={`proxy-detail-${p.name}`}>
      <div>
        <Link to="/proxies" className="inline-flex items-center gap-1 text-sm text-slate-500 hover:text-slate-900"><ChevronLeft className="size-4" aria-hidden /> Proxies</Link>
        <div className="mt-2 flex flex-wrap items-center justify-between gap-4">
          <div className="flex items-center gap-3">
            <h1 className="text-2xl font-semibold tracking-tight text-slate-900">{p.name}</h1>
            <StatusPill status={p.status} testId={`status-${p.name}`} />
          </div>
          <ProxyActions
            proxy={p}
            onEdit={() => setEditing(true)}
            onDeleted={() => navigate('/proxies', { replace: true })}
            onCloned={(copy) => navigate(`/proxies/${copy.id}`)}
          />
        </div>
      </div>

      {p.last_error && (
        <div role="alert" data-testid={`last-error-${p.name}`} className="flex items-start gap-2 rounded-lg border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800">
          <AlertCircle className="mt-0.5 size-4 shrink-0" aria-hidden />
          <div><span className="font-medium">Last error:</span> {p.last_error}</div>
        </div>
      )}

      <Tabs current={tab} onChange={openTab} />

      {tab === 'cache' ? (
        <div className="space-y-6" role="tabpanel" data-testid="cache-tab">
          <CacheMode proxy={p} />
          <CacheEntries key={p.id} proxy={p} />
        </div>
      ) : (
        <div className="space-y-6" role="tabpanel">
          <div className="grid gap-6 lg:grid-cols-[1fr_20rem]">
            <Card>
              <CardHeader title="Connect" description={`Point the ${provider?.name || p.provider} SDK at this proxy; nothing else changes.`} />
              <div className="space-y-4 p-5">
                <div>
                  <p className="mb-1 text-xs font-medium text-slate-500">Base URL</p>
                  <div className="flex items-center gap-2 rounded-md border border-slate-200 bg-slate-50 px-3 py-2">
                    <code className="flex-1 truncate font-mono text-[13px] text-slate-800" data-testid="proxy-base-url">{p.base_url || '—'}</code>
                    {p.base_url && <CopyButton text={p.base_url} label="Copy URL" testId="copy-base-url" />}
                  </div>
                </div>
                <div>
                  <div className="mb-1 flex items-center justify-between">
                    <p className="text-xs font-medium text-slate-500">Python</p>
                    <CopyButton text={snippet} label="Copy snippet" testId="copy-snippet" />
                  </div>
                  <pre className="overflow-x-auto rounded-md bg-slate-900 px-4 py-3 font-mono text-[12.5px] leading-relaxed text-slate-100" data-testid="sdk-snippet"><code>{snippet}</code></pre>
                </div>
                {p.tls && (
                  <p className="text-[13px] text-slate-500">
                    Served over HTTPS. Trust the server's CA:{' '}
                    <a href={api.tlsCaUrl()} className="font-medium text-accent hover:underline" download>download ca.pem</a>
                  </p>
                )}
              </div>
            </Card>
            <Card>
              <CardHeader title="Details" />
              <dl className="grid grid-cols-2 gap-4 p-5">
                <Info label="Provider">{provider?.name || p.provider}</Info>
                <Info label="Model">{p.model_name || '—'}</Info>
                <Info label="Port"><span className="font-mono tabular">{p.port ?? '—'}</span></Info>
                <Info label="Replay">{p.replay === 'recorded' ? 'Recorded pace' : 'Instant'}</Info>
                <Info label="Cache mode"><span className="capitalize" data-testid="detail-cache-mode">{p.cache_mode || 'record'}</span></Info>
                <div className="col-span-2"><Info label="Upstream"><span className="break-all font-mono text-[13px]">{p.upstream_url || provider?.default_upstream_url || 'Official endpoint'}</span></Info></div>
                {p.description && <div className="col-span-2"><Info label="Description">{p.description}</Info></div>}
                {p.tags?.length > 0 && (
                  <div className="col-span-2"><Info label="Tags"><span className="flex flex-wrap gap-1">{p.tags.map((t) => <Badge key={t}>{t}</Badge>)}</span></Info></div>
                )}
              </dl>
            </Card>
          </div>

          {provider?.coverage && <Coverage coverage={provider.coverage} providerName={provider.name} />}
          <FailureEditor key={p.id} proxy={p} />
        </div>
      )}
      <ProxyForm open={editing} proxy={p} onClose={() => setEditing(false)} />
    </div>
  )
}
