// The one module that opens WebSockets. Reconnects with exponential backoff (plus jitter)
// and reports a connection state: 'connecting' | 'open' | 'reconnecting' | 'closed'.
import { useEffect, useRef, useState } from 'react'
import { wsPaths } from './api.js'

const BASE_DELAY = 500
const MAX_DELAY = 15000

export function openLive(url, { onMessage, onState }) {
  let socket = null
  let attempt = 0
  let timer = null
  let closed = false

  const setState = (s) => onState && onState(s)

  const connect = () => {
    if (closed) return
    setState(attempt === 0 ? 'connecting' : 'reconnecting')
    try {
      socket = new WebSocket(url)
    } catch {
      schedule()
      return
    }
    socket.onopen = () => {
      attempt = 0
      setState('open')
    }
    socket.onmessage = (event) => {
      let msg
      try {
        msg = JSON.parse(event.data)
      } catch {
        return
      }
      onMessage && onMessage(msg)
    }
    socket.onclose = () => {
      socket = null
      if (!closed) schedule()
    }
    socket.onerror = () => {
      // onclose follows; nothing else to do here.
    }
  }

  const schedule = () => {
    attempt += 1
    setState('reconnecting')
    const delay = Math.min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
    timer = setTimeout(connect, delay * (0.75 + Math.random() * 0.5))
  }

  connect()

  return () => {
    closed = true
    clearTimeout(timer)
    if (socket) {
      socket.onclose = null
      socket.close()
    }
    setState('closed')
  }
}

// React hook: subscribe while mounted (and while `enabled`). `onMessage` may change freely.
export function useLive(url, onMessage, enabled = true) {
  const [state, setState] = useState('connecting')
  const handler = useRef(onMessage)
  handler.current = onMessage

  useEffect(() => {
    if (!enabled || !url) return undefined
    return openLive(url, {
      onMessage: (msg) => handler.current && handler.current(msg),
      onState: setState,
    })
  }, [url, enabled])

  return state
}

export const useStatsStream = (onStats) =>
  useLive(wsPaths.stats(), (msg) => msg?.type === 'stats' && onStats(msg.stats))

export const useLogStream = (filters, onEntry, enabled = true) =>
  useLive(wsPaths.logs(filters), (msg) => msg?.type === 'log' && onEntry(msg.entry), enabled)
