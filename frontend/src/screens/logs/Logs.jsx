import { useCallback, useEffect, useMemo, useState } from 'react'
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { Download, Pause, Play, ScrollText, Trash2 } from 'lucide-react'
import { Button } from '../../components/Button.jsx'
import { Card } from '../../components/Card.jsx'
import { EmptyState } from '../../components/EmptyState.jsx'
import { FormError } from '../../components/Field.jsx'
import { LiveBadge } from '../../components/LiveBadge.jsx'
import { PageHeader } from '../../components/PageHeader.jsx'
import { SkeletonRows } from '../../components/Skeleton.jsx'
import { api } from '../../lib/api.js'
import { fmtCount, fmtInt, localToIso } from '../../lib/format.js'
import { useToast } from '../../lib/toast.jsx'
import { EMPTY_FILTERS, LogFilters } from './LogFilters.jsx'
import { LogTable } from './LogTable.jsx'
import { PurgeDialog } from './PurgeDialog.jsx'
import { MAX_ROWS, useLogFeed } from './useLogFeed.js'

function useDebounced(value, ms) {
  const [v, setV] = useState(value)
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms)
    return () => clearTimeout(t)
  }, [value, ms])
  return v
}

const exportLink =
  'inline-flex h-8 items-center gap-1.5 rounded-md border border-slate-300 bg-white px-3 text-sm font-medium text-slate-700 shadow-xs hover:bg-slate-50'

export default function Logs() {
  const qc = useQueryClient()
  const toast = useToast()
  const proxies = useQuery({ queryKey: ['proxies'], queryFn: () => api.proxies() })
  const [filters, setFilters] = useState(EMPTY_FILTERS)
  const [paused, setPaused] = useState(false)
  const [purgeOpen, setPurgeOpen] = useState(false)
  const [purging, setPurging] = useState(false)
  const applied = useDebounced(filters, 300)

  const params = useMemo(
    () => ({ ...applied, since: localToIso(applied.since), until: localToIso(applied.until) }),
    [applied],
  )
  const feed = useLogFeed(params, paused)
  const { history } = feed

  const names = useMemo(() => {
    const m = {}
    for (const p of proxies.data || []) {
      m[String(p.id)] = p.name
      m[p.name] = p.name
    }
    return m
  }, [proxies.data])
  const proxyName = useCallback((id) => names[String(id)] || String(id ?? '—'), [names])

  const onEndReached = useCallback(() => {
    if (history.hasNextPage && !history.isFetchingNextPage && feed.rows.length < MAX_ROWS) history.fetchNextPage()
  }, [history, feed.rows.length])

  const onPurge = async (range) => {
    setPurging(true)
    try {
      const res = await api.purgeLogs(range)
      const n = res?.deleted ?? 0
      toast.success(`Deleted ${fmtInt(n)} log ${n === 1 ? 'entry' : 'entries'}.`)
      setPurgeOpen(false)
      feed.clearLive()
      qc.invalidateQueries({ queryKey: ['logs'] })
    } catch (e) {
      toast.error(`Could not purge logs: ${e.message}`)
    } finally {
      setPurging(false)
    }
  }

  const exportParams = { ...params }
  const filtered = Object.values(filters).some(Boolean)

  return (
    <>
      <PageHeader
        title="Logs"
        description="Every request through your proxies: metadata only, never bodies or keys."
        slot={feed.liveEnabled && <LiveBadge state={feed.state} paused={paused} />}
        actions={
          <>
            <Button onClick={() => setPaused((p) => !p)} data-testid="live-toggle" aria-pressed={paused} disabled={!feed.liveEnabled}>
              {paused ? <Play className="size-3.5" aria-hidden /> : <Pause className="size-3.5" aria-hidden />}
              {paused ? `Resume${feed.held ? ` (${fmtInt(feed.held)} new)` : ''}` : 'Pause'}
            </Button>
            <a href={api.logsExportUrl({ ...exportParams, format: 'csv' })} download className={exportLink} data-testid="export-csv">
              <Download className="size-3.5" aria-hidden /> CSV
            </a>
            <a href={api.logsExportUrl({ ...exportParams, format: 'json' })} download className={exportLink} data-testid="export-json">
              <Download className="size-3.5" aria-hidden /> JSON
            </a>
            <Button onClick={() => setPurgeOpen(true)} data-testid="purge-logs" className="hover:text-red-600">
              <Trash2 className="size-3.5" aria-hidden /> Purge
            </Button>
          </>
        }
      />
      <Card className="overflow-hidden">
        <div className="border-b border-slate-200 px-4 py-3">
          <LogFilters value={filters} onChange={setFilters} proxies={proxies.data || []} />
        </div>
        {history.isLoading ? (
          <SkeletonRows rows={8} />
        ) : history.isError ? (
          <div className="p-5"><FormError message={`Could not load logs: ${history.error.message}`} /></div>
        ) : feed.rows.length === 0 ? (
          <EmptyState icon={ScrollText} title={filtered ? 'No entries match these filters' : 'No requests logged yet'}>
            {filtered
              ? 'Widen the time range or clear a filter. New matching requests appear here live.'
              : 'Start a proxy and send a request through its base URL; it shows up here the moment it completes.'}
          </EmptyState>
        ) : (
          <LogTable
            rows={feed.rows}
            proxyName={proxyName}
            onEndReached={onEndReached}
            footer={
              <div className="px-4 py-2 text-center text-xs text-slate-400 tabular" data-testid="log-footer">
                {history.isFetchingNextPage
                  ? 'Loading older entries…'
                  : `${fmtInt(feed.rows.length)} shown${feed.total != null ? ` · ${fmtCount(feed.total, feed.totalIsLowerBound)} matching in history` : ''}${feed.rows.length >= MAX_ROWS ? ' · showing the newest 10,000' : ''}`}
              </div>
            }
          />
        )}
      </Card>
      <PurgeDialog open={purgeOpen} onClose={() => setPurgeOpen(false)} onPurge={onPurge} loading={purging} />
    </>
  )
}
