import { useEffect, useRef, useState } from 'react'
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { AlertCircle, CheckCircle2, ChevronLeft, ChevronRight, Database, Download, Eraser, Search, Trash2, Upload, X } from 'lucide-react'
import { Button, IconButton } from '../../components/Button.jsx'
import { Card, CardHeader } from '../../components/Card.jsx'
import { ConfirmDialog } from '../../components/ConfirmDialog.jsx'
import { EmptyState } from '../../components/EmptyState.jsx'
import { FormError } from '../../components/Field.jsx'
import { SkeletonRows } from '../../components/Skeleton.jsx'
import { Badge } from '../../components/StatusPill.jsx'
import { api } from '../../lib/api.js'
import { fmtBytes, fmtDateTime, fmtInt, fmtRelative } from '../../lib/format.js'
import { useToast } from '../../lib/toast.jsx'
import { useProxyActions } from './useProxyActions.js'

const PAGE_SIZE = 50
const EMPTY = { q: '', model: '', path: '' }
const ctl = 'h-8 rounded-md border border-slate-300 bg-white px-2.5 text-[13px] text-slate-800 shadow-xs placeholder:text-slate-400'
const exportLink =
  'inline-flex h-8 items-center gap-1.5 rounded-md border border-slate-300 bg-white px-3 text-sm font-medium text-slate-700 shadow-xs hover:bg-slate-50'
const plural = (n, one, many) => `${fmtInt(n)} ${n === 1 ? one : many}`
const statusTone = (s) => (s >= 500 ? 'red' : s >= 400 ? 'amber' : 'green')

function useDebounced(value, ms) {
  const [v, setV] = useState(value)
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms)
    return () => clearTimeout(t)
  }, [value, ms])
  return v
}

function ImportResult({ result, onDismiss }) {
  if (!result) return null
  const ok = !result.error
  return (
    <div
      role={ok ? 'status' : 'alert'}
      data-testid={ok ? 'cache-import-result' : 'cache-import-error'}
      className={`flex items-start gap-2 border-b px-5 py-3 text-sm ${ok ? 'border-emerald-100 bg-emerald-50/60 text-emerald-800' : 'border-red-100 bg-red-50 text-red-800'}`}
    >
      {ok ? <CheckCircle2 className="mt-0.5 size-4 shrink-0" aria-hidden /> : <AlertCircle className="mt-0.5 size-4 shrink-0" aria-hidden />}
      <div className="flex-1">
        {ok ? (
          <>
            Imported <span className="font-medium">{result.file}</span>:{' '}
            <span className="tabular">{fmtInt(result.added)} added, {fmtInt(result.replaced)} replaced, {fmtInt(result.unchanged)} unchanged.</span>
          </>
        ) : (
          <>
            <span className="font-medium">Could not import {result.file}.</span> {result.error}
          </>
        )}
      </div>
      <button type="button" onClick={onDismiss} aria-label="Dismiss" className="rounded p-0.5 opacity-60 hover:opacity-100">
        <X className="size-3.5" aria-hidden />
      </button>
    </div>
  )
}

function EntryRow({ e, onDelete }) {
  return (
    <tr data-testid="cache-row" data-key={e.key} className="hover:bg-slate-50/70">
      <td className="px-5 py-2.5">
        <code className="font-mono text-xs text-slate-600" title={e.key}>{e.key.slice(0, 12)}…</code>
      </td>
      <td className="max-w-72 px-3 py-2.5">
        <div className="truncate" title={`${e.method} ${e.path}`}>
          <span className="font-mono text-xs font-medium text-slate-500">{e.method}</span>{' '}
          <span className="font-mono text-xs text-slate-800">{e.path}</span>
        </div>
      </td>
      <td className="max-w-48 truncate px-3 py-2.5 text-slate-700" data-testid="cache-row-model">{e.model || <span className="text-slate-300">—</span>}</td>
      <td className="px-3 py-2.5 whitespace-nowrap">
        <Badge tone={statusTone(e.status)}>{e.status}</Badge>
        {e.stream && <span className="ml-1"><Badge tone="accent">stream</Badge></span>}
      </td>
      <td className="px-3 py-2.5 text-right tabular text-slate-700">{fmtBytes(e.size)}</td>
      <td className="px-3 py-2.5 text-right tabular text-slate-700" data-testid="cache-row-hits">{fmtInt(e.hits)}</td>
      <td className="px-3 py-2.5 whitespace-nowrap text-slate-600" title={fmtDateTime(e.recorded_at)}>{fmtRelative(e.recorded_at)}</td>
      <td className="px-3 py-2.5 whitespace-nowrap text-slate-600" title={e.last_hit_at ? fmtDateTime(e.last_hit_at) : undefined}>{e.last_hit_at ? fmtRelative(e.last_hit_at) : '—'}</td>
      <td className="px-5 py-2.5 text-right">
        <IconButton label={`Delete cached answer ${e.key.slice(0, 12)}`} onClick={() => onDelete(e)} data-testid={`cache-delete-${e.key.slice(0, 12)}`} className="hover:text-red-600">
          <Trash2 className="size-3.5" />
        </IconButton>
      </td>
    </tr>
  )
}

// A proxy's cached answers (its recording): search and filters, totals, pages, delete one, clear all,
// export as a recording file and import one.
export function CacheEntries({ proxy }) {
  const qc = useQueryClient()
  const toast = useToast()
  const actions = useProxyActions(proxy)
  const fileInput = useRef(null)
  const [filters, setFilters] = useState(EMPTY)
  const [page, setPage] = useState(1)
  const [deleting, setDeleting] = useState(null) // an entry awaiting confirmation
  const [clearing, setClearing] = useState(false)
  const [imported, setImported] = useState(null)
  const applied = useDebounced(filters, 300)
  const filtered = Object.values(applied).some(Boolean)

  useEffect(() => setPage(1), [applied])

  const params = { ...applied, page, page_size: PAGE_SIZE }
  const list = useQuery({
    queryKey: ['cache', proxy.id, params],
    queryFn: () => api.cacheEntries(proxy.id, params),
    placeholderData: keepPreviousData,
    refetchInterval: 5000,
  })
  const refresh = () => qc.invalidateQueries({ queryKey: ['cache', proxy.id] })

  const remove = useMutation({
    mutationFn: (key) => api.deleteCacheEntry(proxy.id, key),
    onSuccess: () => {
      toast.success(`Deleted 1 cached answer from ${proxy.name}.`)
      setDeleting(null)
      refresh()
    },
    onError: (e) => {
      toast.error(`Could not delete the cached answer: ${e.message}`)
      setDeleting(null)
      refresh()
    },
  })

  const importFile = useMutation({
    mutationFn: (file) => api.importCache(proxy.id, file),
    onSuccess: (counts, file) => {
      setImported({ file: file.name, ...counts })
      refresh()
    },
    onError: (e, file) => setImported({ file: file.name, error: e.message }),
  })

  const onPick = (event) => {
    const file = event.target.files?.[0]
    event.target.value = '' // the same file can be picked again
    if (file) {
      setImported(null)
      importFile.mutate(file)
    }
  }

  const onClear = () =>
    actions.clearCache.mutate(undefined, {
      onSettled: () => {
        setClearing(false)
        refresh()
      },
    })

  const data = list.data
  const rows = data?.results || []
  const count = data?.count ?? 0
  const first = count ? (page - 1) * PAGE_SIZE + 1 : 0
  const last = Math.min(page * PAGE_SIZE, count)
  const set = (k) => (e) => setFilters((f) => ({ ...f, [k]: e.target.value }))

  return (
    <Card className="overflow-hidden">
      <CardHeader
        title="Cached answers"
        description={
          data ? (
            <span data-testid="cache-totals" className="tabular">
              {plural(count, 'entry', 'entries')}{filtered ? ' matching' : ''} · {fmtBytes(data.total_bytes)} · {plural(data.total_hits ?? 0, 'hit', 'hits')}
            </span>
          ) : (
            'Every answer this proxy can replay.'
          )
        }
        actions={
          <>
            <input ref={fileInput} type="file" accept=".jsonl,.ndjson,application/x-ndjson" className="hidden" onChange={onPick} data-testid="cache-import-file" />
            <Button onClick={() => fileInput.current?.click()} loading={importFile.isPending} data-testid="cache-import">
              {!importFile.isPending && <Upload className="size-3.5" aria-hidden />} Import
            </Button>
            <a href={api.cacheExportUrl(proxy.id)} download={`${proxy.name}.rubberduck.jsonl`} className={exportLink} data-testid="cache-export">
              <Download className="size-3.5" aria-hidden /> Export
            </a>
            <Button onClick={() => setClearing(true)} disabled={!count && !filtered} data-testid="cache-clear" className="hover:text-red-600">
              <Eraser className="size-3.5" aria-hidden /> Clear all
            </Button>
          </>
        }
      />
      <ImportResult result={imported} onDismiss={() => setImported(null)} />
      <div className="flex flex-wrap items-center gap-2 border-b border-slate-200 px-5 py-3" data-testid="cache-filters">
        <div className="relative">
          <Search className="pointer-events-none absolute top-2 left-2.5 size-4 text-slate-400" aria-hidden />
          <input type="search" aria-label="Search keys, models and paths" placeholder="Search key, model or path" className={`${ctl} w-72 pl-8`} value={filters.q} onChange={set('q')} data-testid="cache-search" />
        </div>
        <input aria-label="Model" placeholder="Model (exact)" className={`${ctl} w-44`} value={filters.model} onChange={set('model')} data-testid="cache-filter-model" />
        <input aria-label="Path contains" placeholder="Path contains" className={`${ctl} w-44 font-mono`} value={filters.path} onChange={set('path')} data-testid="cache-filter-path" />
        {Object.values(filters).some(Boolean) && (
          <button type="button" onClick={() => setFilters(EMPTY)} className="inline-flex items-center gap-1 rounded px-1.5 py-1 text-[13px] font-medium text-slate-500 hover:text-slate-900" data-testid="cache-filter-clear">
            <X className="size-3.5" aria-hidden /> Clear filters
          </button>
        )}
      </div>
      {list.isLoading ? (
        <SkeletonRows rows={4} />
      ) : list.isError ? (
        <div className="p-5"><FormError message={`Could not load the cache: ${list.error.message}`} /></div>
      ) : rows.length === 0 ? (
        <EmptyState icon={Database} title={filtered ? 'No cached answers match' : 'Nothing cached yet'} testId="cache-empty">
          {filtered
            ? 'Clear a filter, or search for part of a key, model or path.'
            : 'Answers are stored as calls go through this proxy in Record or Refresh mode, or imported from a recording file.'}
        </EmptyState>
      ) : (
        <>
          <div className="overflow-x-auto">
            <table className="w-full text-[13px]" data-testid="cache-table">
              <thead className="border-b border-slate-200 bg-slate-50/60 text-left text-xs font-medium whitespace-nowrap text-slate-500">
                <tr>
                  <th scope="col" className="px-5 py-2.5 font-medium">Key</th>
                  <th scope="col" className="px-3 py-2.5 font-medium">Request</th>
                  <th scope="col" className="px-3 py-2.5 font-medium">Model</th>
                  <th scope="col" className="px-3 py-2.5 font-medium">Answer</th>
                  <th scope="col" className="px-3 py-2.5 text-right font-medium">Size</th>
                  <th scope="col" className="px-3 py-2.5 text-right font-medium">Hits</th>
                  <th scope="col" className="px-3 py-2.5 font-medium">Recorded</th>
                  <th scope="col" className="px-3 py-2.5 font-medium">Last hit</th>
                  <th scope="col" className="px-5 py-2.5"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {rows.map((e) => <EntryRow key={e.key} e={e} onDelete={setDeleting} />)}
              </tbody>
            </table>
          </div>
          <div className="flex items-center justify-between border-t border-slate-200 px-5 py-2.5 text-[13px] text-slate-500">
            <span className="tabular" data-testid="cache-page-info">{fmtInt(first)}–{fmtInt(last)} of {fmtInt(count)}</span>
            <div className="flex gap-1">
              <Button size="sm" onClick={() => setPage((p) => p - 1)} disabled={!data?.previous} data-testid="cache-prev">
                <ChevronLeft className="size-3.5" aria-hidden /> Previous
              </Button>
              <Button size="sm" onClick={() => setPage((p) => p + 1)} disabled={!data?.next} data-testid="cache-next">
                Next <ChevronRight className="size-3.5" aria-hidden />
              </Button>
            </div>
          </div>
        </>
      )}
      <ConfirmDialog
        open={!!deleting}
        onClose={() => setDeleting(null)}
        onConfirm={() => remove.mutate(deleting.key)}
        loading={remove.isPending}
        title="Delete this cached answer?"
        description={
          deleting &&
          `${deleting.method} ${deleting.path}${deleting.model ? ` (${deleting.model})` : ''}, key ${deleting.key.slice(0, 12)}…: the next identical call goes to the provider again, or fails in Replay mode.`
        }
        confirmLabel="Delete answer"
      />
      <ConfirmDialog
        open={clearing}
        onClose={() => setClearing(false)}
        onConfirm={onClear}
        loading={actions.clearCache.isPending}
        title={`Clear the cache of “${proxy.name}”?`}
        description={`Every cached answer of ${proxy.name} is deleted, whatever the filters. Export it first to keep a copy. This cannot be undone.`}
        confirmLabel="Clear cache"
      />
    </Card>
  )
}
