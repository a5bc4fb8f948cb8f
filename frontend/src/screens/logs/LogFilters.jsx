import { X } from 'lucide-react'

export const FAILURES = [
  'timeout', 'hang', 'error', 'rate_limit', 'ip_blocked', 'stream_cut', 'not_recorded',
  'upstream_down', 'upstream_dns', 'upstream_tls', 'upstream_reset', 'upstream_cut', 'upstream_timeout',
  'upstream_invalid', 'too_large',
]
export const EMPTY_FILTERS = { proxy: '', status: '', cache: '', failure: '', ip: '', since: '', until: '' }

const ctl = 'h-8 rounded-md border border-slate-300 bg-white px-2 text-[13px] text-slate-800 shadow-xs'

function F({ label, children }) {
  return (
    <label className="flex flex-col gap-1">
      <span className="text-xs font-medium text-slate-500">{label}</span>
      {children}
    </label>
  )
}

export function LogFilters({ value, onChange, proxies }) {
  const set = (k) => (e) => onChange({ ...value, [k]: e.target.value })
  const active = Object.values(value).some(Boolean)
  return (
    <div className="flex flex-wrap items-end gap-3" data-testid="log-filters">
      <F label="Proxy">
        <select className={`${ctl} w-40`} value={value.proxy} onChange={set('proxy')} data-testid="filter-proxy">
          <option value="">All proxies</option>
          {proxies.map((p) => (
            <option key={p.id} value={p.id}>{p.name}</option>
          ))}
        </select>
      </F>
      <F label="Status">
        <input className={`${ctl} w-20 font-mono tabular`} inputMode="numeric" placeholder="Any" value={value.status} onChange={set('status')} data-testid="filter-status" />
      </F>
      <F label="Cache">
        <select className={`${ctl} w-24`} value={value.cache} onChange={set('cache')} data-testid="filter-cache">
          <option value="">Any</option>
          <option value="hit">Hit</option>
          <option value="miss">Miss</option>
          <option value="bypass">Bypass</option>
        </select>
      </F>
      <F label="Failure">
        <select className={`${ctl} w-32`} value={value.failure} onChange={set('failure')} data-testid="filter-failure">
          <option value="">Any</option>
          {FAILURES.map((f) => (
            <option key={f} value={f}>{f.replaceAll('_', ' ')}</option>
          ))}
        </select>
      </F>
      <F label="IP">
        <input className={`${ctl} w-32 font-mono`} placeholder="Any" value={value.ip} onChange={set('ip')} data-testid="filter-ip" />
      </F>
      <F label="From">
        <input type="datetime-local" className={`${ctl} w-48 tabular`} value={value.since} onChange={set('since')} data-testid="filter-since" />
      </F>
      <F label="To">
        <input type="datetime-local" className={`${ctl} w-48 tabular`} value={value.until} onChange={set('until')} data-testid="filter-until" />
      </F>
      {active && (
        <button type="button" onClick={() => onChange(EMPTY_FILTERS)} className="mb-1 inline-flex items-center gap-1 rounded px-1.5 py-1 text-[13px] font-medium text-slate-500 hover:text-slate-900" data-testid="filter-clear">
          <X className="size-3.5" aria-hidden /> Clear filters
        </button>
      )}
    </div>
  )
}
