import { useMutation, useQueryClient } from '@tanstack/react-query'
import { Circle, CircleDot } from 'lucide-react'
import { Card, CardHeader } from '../../components/Card.jsx'
import { api } from '../../lib/api.js'
import { useToast } from '../../lib/toast.jsx'

export const CACHE_MODES = [
  { id: 'record', label: 'Record', help: 'Answer from the cache; a miss goes to the provider and its answer is stored.' },
  { id: 'replay', label: 'Replay', help: 'Answer only from the cache; a miss is an error and the provider is never called.' },
  { id: 'refresh', label: 'Refresh', help: 'Always ask the provider, and store its answer over the cached one.' },
  { id: 'off', label: 'Off', help: 'Neither read nor store: every call goes to the provider.' },
]

// The proxy's cache mode, saved as soon as one is picked (the running proxy applies it before the answer).
export function CacheMode({ proxy }) {
  const qc = useQueryClient()
  const toast = useToast()
  const current = proxy.cache_mode || 'record'
  const save = useMutation({
    mutationFn: (mode) => api.updateProxy(proxy.id, { cache_mode: mode }),
    onSuccess: (updated) => {
      qc.setQueryData(['proxy', String(proxy.id)], (p) => (p ? { ...p, ...updated } : p))
      qc.invalidateQueries({ queryKey: ['proxies'] })
      const label = CACHE_MODES.find((m) => m.id === updated?.cache_mode)?.label || updated?.cache_mode
      toast.success(`Cache mode of ${proxy.name}: ${label}.`)
    },
    onError: (e) => toast.error(`Could not change the cache mode: ${e.message}`),
  })
  const shown = save.isPending ? save.variables : current

  return (
    <Card>
      <CardHeader title="Cache mode" description="How this proxy uses its cache for every call." />
      <div className="p-5">
        <div role="radiogroup" aria-label="Cache mode" className="grid gap-3 sm:grid-cols-2 xl:grid-cols-4" data-testid="cache-mode">
          {CACHE_MODES.map((m) => {
            const on = shown === m.id
            return (
              <button
                key={m.id}
                type="button"
                role="radio"
                aria-checked={on}
                disabled={save.isPending}
                onClick={() => !on && save.mutate(m.id)}
                data-testid={`cache-mode-${m.id}`}
                className={`flex items-start gap-2.5 rounded-lg border px-3.5 py-3 text-left transition-colors disabled:cursor-wait ${
                  on ? 'border-accent bg-accent-50/60 ring-1 ring-accent' : 'border-slate-200 bg-white hover:border-slate-300 hover:bg-slate-50'
                }`}
              >
                {on ? <CircleDot className="mt-0.5 size-4 shrink-0 text-accent" aria-hidden /> : <Circle className="mt-0.5 size-4 shrink-0 text-slate-400" aria-hidden />}
                <span>
                  <span className="block text-sm font-medium text-slate-900">{m.label}</span>
                  <span className="mt-0.5 block text-[13px] text-slate-500">{m.help}</span>
                </span>
              </button>
            )
          })}
        </div>
        <p className="mt-3 text-[13px] text-slate-500">
          One call can differ: send the header <code className="rounded bg-slate-100 px-1 font-mono text-[12px] text-slate-700">x-rubberduck-cache: skip</code> to
          leave the cache out, or <code className="rounded bg-slate-100 px-1 font-mono text-[12px] text-slate-700">refresh</code> to ask the provider again and store its answer.
        </p>
      </div>
    </Card>
  )
}
