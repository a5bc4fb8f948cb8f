import { useEffect, useRef } from 'react'
import { useVirtualizer } from '@tanstack/react-virtual'
import { fmtInt, fmtMs, fmtTime, fmtUsd } from '../../lib/format.js'

const COLS = 'grid grid-cols-[7.5rem_minmax(6rem,1.4fr)_minmax(6rem,1fr)_3.5rem_4.5rem_4.5rem_minmax(5rem,1fr)_4.5rem_5rem] gap-2 px-4'
const ROW_H = 36

const statusTone = (s) => (s >= 500 ? 'text-red-600' : s >= 400 ? 'text-amber-600' : 'text-emerald-700')
const cacheTone = { hit: 'bg-accent-50 text-accent-700', miss: 'bg-slate-100 text-slate-600', bypass: 'bg-slate-50 text-slate-500' }

function Row({ e, proxyName, style }) {
  const fresh = e.__arrived && Date.now() - e.__arrived < 800
  const tokens = (e.prompt_tokens ?? 0) + (e.completion_tokens ?? 0)
  return (
    <div
      role="row" data-testid="log-row" data-log-id={e.id}
      style={style}
      title={`${e.method || ''} ${e.path || ''}  ·  prompt ${e.prompt_hash || '—'}`}
      className={`${COLS} absolute inset-x-0 items-center border-b border-slate-100 text-[13px] hover:bg-slate-50 ${fresh ? 'row-in' : ''}`}
    >
      <span role="cell" className="font-mono text-xs text-slate-600 tabular">{fmtTime(e.timestamp)}</span>
      <span role="cell" className="truncate font-medium text-slate-900">{proxyName(e.proxy)}</span>
      <span role="cell" className="truncate font-mono text-xs text-slate-600">{e.ip}</span>
      <span role="cell" className={`font-mono font-medium tabular ${statusTone(e.status_code)}`}>{e.status_code}</span>
      <span role="cell" className="text-right text-slate-700 tabular">{fmtMs(e.latency_ms)}</span>
      <span role="cell"><span className={`rounded px-1.5 py-0.5 text-xs font-medium ${cacheTone[e.cache] || cacheTone.bypass}`}>{e.cache}</span></span>
      <span role="cell" className="truncate text-xs">{e.failure ? <span className="rounded bg-red-50 px-1.5 py-0.5 font-medium text-red-700">{e.failure.replace('_', ' ')}</span> : <span className="text-slate-300">—</span>}</span>
      <span role="cell" className="text-right text-slate-700 tabular">{tokens ? fmtInt(tokens) : '—'}</span>
      <span role="cell" className="text-right text-slate-700 tabular">{e.cost_usd == null ? '—' : fmtUsd(e.cost_usd)}</span>
    </div>
  )
}

// Virtualised: only the visible rows are in the DOM, so 10,000 entries scroll smoothly.
export function LogTable({ rows, proxyName, onEndReached, footer }) {
  const parent = useRef(null)
  const v = useVirtualizer({ count: rows.length, getScrollElement: () => parent.current, estimateSize: () => ROW_H, overscan: 12 })
  const items = v.getVirtualItems()
  const last = items.length ? items[items.length - 1].index : -1

  useEffect(() => {
    if (last >= rows.length - 20 && onEndReached) onEndReached()
  }, [last, rows.length, onEndReached])

  return (
    <div role="table" aria-label="Request log" aria-rowcount={rows.length} className="flex flex-col">
      <div role="row" className={`${COLS} border-b border-slate-200 bg-slate-50/60 py-2 text-xs font-medium text-slate-500`}>
        {['Time', 'Proxy', 'IP', 'Status', 'Latency', 'Cache', 'Failure', 'Tokens', 'Cost'].map((h, i) => (
          <span role="columnheader" key={h} className={[4, 7, 8].includes(i) ? 'text-right' : ''}>{h}</span>
        ))}
      </div>
      <div ref={parent} className="h-[calc(100vh-22rem)] min-h-80 overflow-auto" data-testid="log-scroll" tabIndex={0} aria-label="Log entries, scrollable">
        <div style={{ height: v.getTotalSize(), position: 'relative' }}>
          {items.map((it) => (
            <Row key={rows[it.index].id ?? it.index} e={rows[it.index]} proxyName={proxyName} style={{ height: ROW_H, transform: `translateY(${it.start}px)` }} />
          ))}
        </div>
        {footer}
      </div>
    </div>
  )
}
