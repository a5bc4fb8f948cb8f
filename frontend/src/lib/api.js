// The one module that knows backend URLs. Every HTTP call of the UI goes through here.
// Session auth: cookies are sent with `credentials: 'same-origin'`; Django's CSRF token is
// read from the `csrftoken` cookie and sent as `X-CSRFToken` on every non-GET request.

const AUTH = '/_allauth/browser/v1'
const API = '/api/v1'

export class ApiError extends Error {
  constructor(status, body) {
    super(messageOf(body) || `Request failed (${status})`)
    this.status = status
    this.body = body
    this.fieldErrors = fieldErrorsOf(body)
  }
}

// Top-level message: DRF {detail}, allauth {errors:[{message}]} without a param, or non_field_errors.
function messageOf(body) {
  if (!body || typeof body !== 'object') return typeof body === 'string' ? body.slice(0, 200) : ''
  if (typeof body.detail === 'string') return body.detail
  if (Array.isArray(body.errors)) {
    const general = body.errors.filter((e) => !e.param)
    return (general.length ? general : body.errors).map((e) => e.message).join(' ')
  }
  if (Array.isArray(body.non_field_errors)) return body.non_field_errors.join(' ')
  const first = Object.values(fieldErrorsOf(body))[0]
  return first || ''
}

// Field errors as {field: "message"}; nested DRF errors flatten to "a.b" / "errors.0.rate".
function fieldErrorsOf(body) {
  const out = {}
  if (!body || typeof body !== 'object') return out
  if (Array.isArray(body.errors)) {
    for (const e of body.errors) if (e.param && !out[e.param]) out[e.param] = e.message
    return out
  }
  const walk = (value, prefix) => {
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      if (value.length) out[prefix] = value.join(' ')
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${prefix}.${i}`))
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, prefix ? `${prefix}.${k}` : k)
    } else if (typeof value === 'string' && prefix !== 'detail') {
      out[prefix] = value
    }
  }
  for (const [k, v] of Object.entries(body)) if (k !== 'detail' && k !== 'status') walk(v, k)
  return out
}

export function getCookie(name) {
  const match = document.cookie.split('; ').find((c) => c.startsWith(`${name}=`))
  return match ? decodeURIComponent(match.slice(name.length + 1)) : null
}

async function ensureCsrf() {
  if (getCookie('csrftoken')) return
  // Any allauth GET sets the CSRF cookie; only needed once per browser.
  await fetch(`${AUTH}/config`, { credentials: 'same-origin' }).catch(() => {})
}

function query(params) {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') qs.set(k, v)
  }
  const s = qs.toString()
  return s ? `?${s}` : ''
}

// `body` is sent as JSON; `raw` (FormData, a File...) as it is, with `contentType` if given (FormData sets its own).
export async function request(method, url, { body, raw, contentType, params, allow = [], polls = 120 } = {}) {
  const headers = { Accept: 'application/json' }
  if (method !== 'GET' && method !== 'HEAD') {
    await ensureCsrf()
    headers['X-CSRFToken'] = getCookie('csrftoken') || ''
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (raw !== undefined && contentType) headers['Content-Type'] = contentType
  const res = await fetch(url + query(params), {
    method,
    headers,
    credentials: 'same-origin',
    body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
  })
  if (res.status === 204) return null
  // A write the running proxy has not applied yet: 202 and where to poll, which answers as the write would.
  const location = res.status === 202 && res.headers.get('Location')
  if (location && polls > 0) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    return request('GET', location, { polls: polls - 1 })
  }
  const text = await res.text()
  let data = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = text
  }
  if (!res.ok && !allow.includes(res.status)) throw new ApiError(res.status, data)
  return allow.length ? { status: res.status, data } : data
}

const get = (url, params) => request('GET', url, { params })
const send = (method) => (url, body, params) => request(method, url, { body, params })
const post = send('POST')
const put = send('PUT')
const patch = send('PATCH')
const del = (url, params) => request('DELETE', url, { params })

// Lists may come bare or DRF-paginated ({count, next, results}).
export const listOf = (data) => (Array.isArray(data) ? data : data?.results || [])

// ---- auth (django-allauth headless, browser client) ----
export const auth = {
  config: () => get(`${AUTH}/config`),
  // Resolves {status, data}: 200 logged in, 401 anonymous (possibly with pending flows).
  session: () => request('GET', `${AUTH}/auth/session`, { allow: [401, 410] }),
  login: (email, password) =>
    request('POST', `${AUTH}/auth/login`, { body: { email, password }, allow: [401, 409] }),
  logout: () => request('DELETE', `${AUTH}/auth/session`, { allow: [401] }),
  signup: (email, password) =>
    request('POST', `${AUTH}/auth/signup`, { body: { email, password }, allow: [401, 409] }),
  verifyEmail: (key) => request('POST', `${AUTH}/auth/email/verify`, { body: { key }, allow: [401] }),
  resendVerification: () => post(`${AUTH}/auth/email/verify/resend`, {}),
  requestPasswordReset: (email) => post(`${AUTH}/auth/password/request`, { email }),
  resetPassword: (key, password) =>
    request('POST', `${AUTH}/auth/password/reset`, { body: { key, password }, allow: [401] }),
  // Social login is a real browser navigation: an HTML form POST.
  async socialRedirect(provider) {
    await ensureCsrf()
    const form = document.createElement('form')
    form.method = 'POST'
    form.action = `${AUTH}/auth/provider/redirect`
    const fields = {
      provider,
      callback_url: '/',
      process: 'login',
      csrfmiddlewaretoken: getCookie('csrftoken') || '',
    }
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement('input')
      input.type = 'hidden'
      input.name = name
      input.value = value
      form.appendChild(input)
    }
    document.body.appendChild(form)
    form.submit()
  },
}

// ---- REST API ----
export const api = {
  me: () => get(`${API}/me/`),
  updateMe: (data) => patch(`${API}/me/`, data),

  tokens: () => get(`${API}/tokens/`).then(listOf),
  createToken: (name) => post(`${API}/tokens/`, { name }),
  revokeToken: (id) => del(`${API}/tokens/${id}/`),

  settings: () => get(`${API}/settings/`),
  saveSettings: (data) => put(`${API}/settings/`, data),

  providers: () => get(`${API}/providers/`).then(listOf),

  proxies: (params) => get(`${API}/proxies/`, params).then(listOf),
  proxy: (id) => get(`${API}/proxies/${id}/`),
  createProxy: (data) => post(`${API}/proxies/`, data),
  updateProxy: (id, data) => patch(`${API}/proxies/${id}/`, data),
  deleteProxy: (id) => del(`${API}/proxies/${id}/`),
  startProxy: (id) => post(`${API}/proxies/${id}/start`, {}),
  stopProxy: (id, mode = 'graceful') => post(`${API}/proxies/${id}/stop`, { mode }),
  clearCache: (id) => del(`${API}/proxies/${id}/cache`),
  // {count, total_bytes, total_hits, next, previous, results}; params: q, model, path, page, page_size.
  cacheEntries: (id, params) => get(`${API}/proxies/${id}/cache/`, params),
  deleteCacheEntry: (id, key) => del(`${API}/proxies/${id}/cache/${encodeURIComponent(key)}`),
  cacheExportUrl: (id) => `${API}/proxies/${id}/cache/export`,
  // A multipart form: a session's CSRF check reads form bodies only, and refuses any other with a 415.
  importCache: (id, file) => {
    const form = new FormData()
    form.append('file', file)
    return request('POST', `${API}/proxies/${id}/cache/import`, { raw: form })
  },
  failures: (id) => get(`${API}/proxies/${id}/failures`),
  saveFailures: (id, config) => put(`${API}/proxies/${id}/failures`, config),
  cloneProxy: (id, name) => post(`${API}/proxies/${id}/clone`, name ? { name } : {}),

  // Returns {count, totalIsLowerBound, next, results}; `url` is a `next` link from a previous page. Past
  // 10,000 matches `count` is 10,000 and `totalIsLowerBound` true (show "10,000+").
  logs: async (params, url) => {
    // `next` links may be absolute; keep them on this origin.
    const next = url && new URL(url, window.location.origin)
    const data = next ? await request('GET', next.pathname + next.search) : await get(`${API}/logs/`, params)
    if (Array.isArray(data)) return { count: data.length, totalIsLowerBound: false, next: null, results: data }
    return {
      count: data?.total ?? data?.count ?? 0,
      totalIsLowerBound: Boolean(data?.total_is_lower_bound),
      next: data?.next || null,
      results: data?.results || [],
    }
  },
  logsExportUrl: (params) => `${API}/logs/export${query(params)}`,
  purgeLogs: (params) => del(`${API}/logs/`, params),

  metrics: (params) => get(`${API}/metrics/`, params).then(listOf),
  tlsCaUrl: () => `${API}/tls/ca.pem`,
}

// ---- WebSocket paths (opened only by lib/live.js) ----
export function wsUrl(path, params) {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${window.location.host}${path}${query(params)}`
}

export const wsPaths = {
  logs: (params) => wsUrl('/ws/logs/', params),
  stats: () => wsUrl('/ws/stats/'),
}
