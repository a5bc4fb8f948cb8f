import { useEffect, useMemo, useRef, useState } from 'react'
import { useInfiniteQuery } from '@tanstack/react-query'
import { api } from '../../lib/api.js'
import { useLogStream } from '../../lib/live.js'

export const MAX_ROWS = 10000
const FLUSH_MS = 250

// History (paginated REST) + live entries (WebSocket), newest first, de-duplicated, capped.
// While paused, live entries are held back and counted; resuming shows them.
export function useLogFeed(params, paused) {
  const key = JSON.stringify(params)
  const history = useInfiniteQuery({
    queryKey: ['logs', params],
    queryFn: ({ pageParam }) => api.logs(params, pageParam),
    initialPageParam: null,
    getNextPageParam: (last) => last.next || undefined,
  })

  const [live, setLive] = useState([])
  const [held, setHeld] = useState(0)
  const incoming = useRef([])
  const heldRef = useRef([])
  const pausedRef = useRef(paused)
  pausedRef.current = paused

  useEffect(() => {
    incoming.current = []
    heldRef.current = []
    setLive([])
    setHeld(0)
  }, [key])

  const since = params.since ? new Date(params.since).getTime() : null
  const until = params.until ? new Date(params.until).getTime() : null
  const liveEnabled = !until || until > Date.now()
  const wsFilters = { proxy: params.proxy, status: params.status, cache: params.cache, failure: params.failure, ip: params.ip }

  const state = useLogStream(
    wsFilters,
    (entry) => {
      const t = new Date(entry.timestamp).getTime()
      if ((since && t < since) || (until && t > until)) return
      incoming.current.push(entry)
    },
    liveEnabled,
  )

  useEffect(() => {
    const id = setInterval(() => {
      if (!incoming.current.length) return
      const batch = incoming.current.reverse()
      incoming.current = []
      if (pausedRef.current) {
        heldRef.current = [...batch, ...heldRef.current].slice(0, MAX_ROWS)
        setHeld(heldRef.current.length)
      } else {
        const now = Date.now()
        setLive((prev) => [...batch.map((e) => ({ ...e, __arrived: now })), ...prev].slice(0, MAX_ROWS))
      }
    }, FLUSH_MS)
    return () => clearInterval(id)
  }, [])

  useEffect(() => {
    if (!paused && heldRef.current.length) {
      const now = Date.now()
      const batch = heldRef.current.map((e) => ({ ...e, __arrived: now }))
      heldRef.current = []
      setHeld(0)
      setLive((prev) => [...batch, ...prev].slice(0, MAX_ROWS))
    }
  }, [paused])

  const rows = useMemo(() => {
    const seen = new Set()
    const out = []
    const add = (e) => {
      if (out.length >= MAX_ROWS) return
      const id = e.id ?? `${e.timestamp}-${e.prompt_hash}-${e.ip}`
      if (seen.has(id)) return
      seen.add(id)
      out.push(e)
    }
    live.forEach(add)
    for (const page of history.data?.pages || []) page.results.forEach(add)
    return out
  }, [live, history.data])

  const total = history.data?.pages?.[0]?.count
  const totalIsLowerBound = Boolean(history.data?.pages?.[0]?.totalIsLowerBound)
  return {
    rows, history, state: liveEnabled ? state : 'closed', liveEnabled, held, total, totalIsLowerBound,
    clearLive: () => setLive([]),
  }
}
