import { useEffect, useRef, useState } from 'react'
import { useLogStream } from '../../lib/live.js'

// Requests and cache hits per proxy over the last 60 s, counted from the live log stream.
export function useLiveCounts() {
  const events = useRef([]) // [{t, proxy, hit}]
  const [counts, setCounts] = useState({})

  const state = useLogStream({}, (entry) => {
    events.current.push({ t: Date.now(), proxy: String(entry.proxy), hit: entry.cache === 'hit' })
  })

  useEffect(() => {
    const tick = () => {
      const cutoff = Date.now() - 60_000
      events.current = events.current.filter((e) => e.t >= cutoff)
      const next = {}
      for (const e of events.current) {
        const c = (next[e.proxy] ||= { requests: 0, hits: 0 })
        c.requests += 1
        if (e.hit) c.hits += 1
      }
      setCounts(next)
    }
    const id = setInterval(tick, 1000)
    return () => clearInterval(id)
  }, [])

  return { counts, state }
}
