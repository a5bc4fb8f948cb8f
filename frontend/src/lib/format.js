const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const dec1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 })

export const fmtInt = (n) => (n == null || Number.isNaN(n) ? '—' : int.format(n))
// A count the API may bound: "10,000+" when more match than it counted.
export const fmtCount = (n, lowerBound) => (lowerBound && n != null ? `${fmtInt(n)}+` : fmtInt(n))
export const fmtNum = (n) => (n == null || Number.isNaN(n) ? '—' : dec1.format(n))
export const fmtPct = (r) => (r == null || Number.isNaN(r) ? '—' : `${dec1.format(r * 100)}%`)

export function fmtUsd(n) {
  if (n == null || Number.isNaN(Number(n))) return '—'
  const v = Number(n)
  // A few tokens cost millionths of a dollar: say so rather than show a non-zero cost as $0.0000.
  if (v > 0 && v < 0.0001) return '<$0.0001'
  const digits = v !== 0 && Math.abs(v) < 1 ? 4 : 2
  return `$${v.toFixed(digits)}`
}

export function fmtMs(n) {
  if (n == null) return '—'
  return n >= 1000 ? `${dec1.format(n / 1000)} s` : `${int.format(n)} ms`
}

export function fmtTime(iso) {
  if (!iso) return '—'
  const d = new Date(iso)
  return d.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0')
}

export function fmtDateTime(iso) {
  if (!iso) return '—'
  return new Date(iso).toLocaleString('en-GB', {
    year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit',
  })
}

export function fmtRelative(iso) {
  if (!iso) return 'never'
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000)
  if (s < 60) return 'just now'
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} d ago`
}

// <input type="datetime-local"> value (local time) → ISO 8601 with offset, or '' when empty.
export function localToIso(value) {
  if (!value) return ''
  const d = new Date(value)
  return Number.isNaN(d.getTime()) ? '' : d.toISOString()
}

export function fmtBytes(n) {
  if (n == null || Number.isNaN(n)) return '—'
  if (n < 1000) return `${int.format(n)} B`
  const units = ['kB', 'MB', 'GB']
  let v = n
  for (const u of units) {
    v /= 1000
    if (v < 1000 || u === 'GB') return `${dec1.format(v)} ${u}`
  }
  return '—'
}
