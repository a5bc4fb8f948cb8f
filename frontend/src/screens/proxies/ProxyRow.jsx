import { Link } from 'react-router'
import { AlertCircle } from 'lucide-react'
import { StatusPill } from '../../components/StatusPill.jsx'
import { CopyButton } from '../../components/CopyButton.jsx'
import { fmtInt, fmtPct } from '../../lib/format.js'
import { ProxyActions } from './ProxyActions.jsx'

export function ProxyRow({ proxy: p, providerName, live, onEdit }) {
  const requests = live?.requests ?? 0
  const hitRate = live && live.requests ? live.hits / live.requests : null
  return (
    <>
      <tr data-testid={`proxy-row-${p.name}`} data-proxy-id={p.id} className="group hover:bg-slate-50/70">
        <td className="px-5 py-3 whitespace-nowrap">
          <Link to={`/proxies/${p.id}`} className="font-medium text-slate-900 hover:text-accent" data-testid={`proxy-link-${p.name}`}>
            {p.name}
          </Link>
          <div className="max-w-48 truncate text-xs text-slate-500">{p.model_name}</div>
        </td>
        <td className="px-3 py-3 text-slate-700">{providerName}</td>
        <td className="px-3 py-3 text-right font-mono tabular text-slate-700">{p.port ?? '—'}</td>
        <td className="px-3 py-3">
          <StatusPill status={p.status} testId={`status-${p.name}`} title={p.last_error || undefined} />
        </td>
        <td className="px-3 py-3 text-right tabular text-slate-700" data-testid={`rpm-${p.name}`}>{fmtInt(requests)}</td>
        <td className="px-3 py-3 text-right tabular text-slate-700">{fmtPct(hitRate)}</td>
        <td className="hidden max-w-64 px-3 py-3 xl:table-cell">
          {p.base_url ? (
            <div className="flex items-center gap-1.5">
              <code className="truncate font-mono text-xs text-slate-600" title={p.base_url}>{p.base_url}</code>
              <CopyButton text={p.base_url} label="Copy" className="opacity-0 group-hover:opacity-100 focus:opacity-100" />
            </div>
          ) : (
            <span className="text-slate-400">—</span>
          )}
        </td>
        <td className="px-5 py-3">
          <ProxyActions proxy={p} onEdit={onEdit} />
        </td>
      </tr>
      {p.last_error && (
        <tr data-testid={`last-error-${p.name}`} className="bg-red-50/40">
          <td colSpan={8} className="px-5 pt-0 pb-2.5">
            <div className="flex items-start gap-1.5 text-xs text-red-700">
              <AlertCircle className="mt-px size-3.5 shrink-0" aria-hidden />
              <span><span className="font-medium">Last error:</span> {p.last_error}</span>
            </div>
          </td>
        </tr>
      )}
    </>
  )
}
