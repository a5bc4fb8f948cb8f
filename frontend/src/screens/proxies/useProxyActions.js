import { useMutation, useQueryClient } from '@tanstack/react-query'
import { api } from '../../lib/api.js'
import { useToast } from '../../lib/toast.jsx'

// Lifecycle and cache actions on one proxy, with optimistic status and toasts.
export function useProxyActions(proxy) {
  const qc = useQueryClient()
  const toast = useToast()

  const patchCache = (next) => {
    qc.setQueryData(['proxies'], (list) => list && list.map((p) => (p.id === next.id ? { ...p, ...next } : p)))
    qc.setQueryData(['proxy', String(next.id)], (p) => (p ? { ...p, ...next } : p))
  }

  const lifecycle = (fn, pending, done) =>
    useMutation({
      mutationFn: fn,
      onMutate: () => patchCache({ id: proxy.id, status: pending }),
      onSuccess: (updated) => {
        if (updated && updated.id !== undefined) patchCache(updated)
        if (updated?.status === 'error') toast.error(`${proxy.name} failed: ${updated.last_error || 'unknown error'}`)
        else toast.success(done)
      },
      onError: (e) => toast.error(`${proxy.name}: ${e.message}`),
      onSettled: () => {
        qc.invalidateQueries({ queryKey: ['proxies'] })
        qc.invalidateQueries({ queryKey: ['proxy', String(proxy.id)] })
      },
    })

  const start = lifecycle(() => api.startProxy(proxy.id), 'starting', `${proxy.name} is running.`)
  const stopGraceful = lifecycle(() => api.stopProxy(proxy.id, 'graceful'), 'stopping', `${proxy.name} stopped.`)
  const stopForce = lifecycle(() => api.stopProxy(proxy.id, 'force'), 'stopping', `${proxy.name} force-stopped.`)

  const clearCache = useMutation({
    mutationFn: () => api.clearCache(proxy.id),
    onSuccess: (res) => {
      const n = res?.deleted ?? 0
      toast.success(`Cleared ${n} cached ${n === 1 ? 'response' : 'responses'} from ${proxy.name}.`)
    },
    onError: (e) => toast.error(`Could not clear the cache: ${e.message}`),
  })

  const remove = useMutation({
    mutationFn: () => api.deleteProxy(proxy.id),
    onSuccess: () => {
      qc.setQueryData(['proxies'], (list) => list && list.filter((p) => p.id !== proxy.id))
      qc.removeQueries({ queryKey: ['proxy', String(proxy.id)] })
      toast.success(`Deleted ${proxy.name}.`)
    },
    onError: (e) => toast.error(`Could not delete ${proxy.name}: ${e.message}`),
  })

  const clone = useMutation({
    mutationFn: () => api.cloneProxy(proxy.id),
    onSuccess: (copy) => {
      qc.invalidateQueries({ queryKey: ['proxies'] })
      toast.success(`Cloned ${proxy.name} as ${copy.name}.`)
    },
    onError: (e) => toast.error(`Could not clone ${proxy.name}: ${e.message}`),
  })

  return { start, stopGraceful, stopForce, clearCache, remove, clone }
}
