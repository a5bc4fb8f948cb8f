import { useState } from 'react'
import { useQuery } from '@tanstack/react-query'
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import { Card, CardHeader } from '../../components/Card.jsx'
import { EmptyState } from '../../components/EmptyState.jsx'
import { FormError } from '../../components/Field.jsx'
import { Skeleton } from '../../components/Skeleton.jsx'
import { api } from '../../lib/api.js'
import { fmtNum, fmtPct, fmtUsd } from '../../lib/format.js'
import { BarChart3 } from 'lucide-react'

// Chart ranges and the roll-up each one reads.
export const RANGES = [
  { id: '1h', label: '1 h', window: '1m', ms: 3600e3, tick: { hour: '2-digit', minute: '2-digit' } },
  { id: '24h', label: '24 h', window: '15m', ms: 86400e3, tick: { hour: '2-digit', minute: '2-digit' } },
  { id: '7d', label: '7 d', window: '1h', ms: 7 * 86400e3, tick: { weekday: 'short', hour: '2-digit' } },
]

const axis = { fontSize: 11, fill: '#64748b' }
const grid = <CartesianGrid stroke="#f1f5f9" vertical={false} />

function ChartCard({ title, children }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4">
      <h3 className="mb-3 text-sm font-semibold text-slate-900">{title}</h3>
      <div className="h-52">
        <ResponsiveContainer width="100%" height="100%">{children}</ResponsiveContainer>
      </div>
    </div>
  )
}

export function useMetrics(range) {
  return useQuery({
    queryKey: ['metrics', range.id],
    queryFn: () => {
      const since = new Date(Date.now() - range.ms).toISOString()
      return api.metrics({ window: range.window, since })
    },
    refetchInterval: range.window === '1m' ? 30_000 : 120_000,
  })
}

export function MetricsCharts() {
  const [rangeId, setRangeId] = useState('1h')
  const range = RANGES.find((r) => r.id === rangeId)
  const metrics = useMetrics(range)
  const data = (metrics.data || []).map((b) => ({ ...b, t: new Date(b.start).getTime() }))
  const tick = (t) => new Date(t).toLocaleString('en-GB', range.tick)
  const label = (t) => new Date(t).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })
  const xAxis = <XAxis dataKey="t" type="number" scale="time" domain={['dataMin', 'dataMax']} tickFormatter={tick} tick={axis} axisLine={false} tickLine={false} minTickGap={40} />

  return (
    <Card>
      <CardHeader
        title="Traffic"
        description={`${range.label} of ${range.window} roll-ups`}
        actions={
          <div role="radiogroup" aria-label="Chart range" className="inline-flex rounded-md border border-slate-300 bg-white p-0.5">
            {RANGES.map((r) => (
              <button
                key={r.id} type="button" role="radio" aria-checked={r.id === rangeId}
                onClick={() => setRangeId(r.id)} data-testid={`range-${r.id}`}
                className={`rounded px-2.5 py-1 text-xs font-medium ${r.id === rangeId ? 'bg-accent-50 text-accent-700' : 'text-slate-600 hover:text-slate-900'}`}
              >
                {r.label}
              </button>
            ))}
          </div>
        }
      />
      <div className="p-5">
        {metrics.isLoading ? (
          <div className="grid gap-4 lg:grid-cols-3"><Skeleton className="h-60" /><Skeleton className="h-60" /><Skeleton className="h-60" /></div>
        ) : metrics.isError ? (
          <FormError message={`Could not load metrics: ${metrics.error.message}`} />
        ) : data.length === 0 ? (
          <EmptyState icon={BarChart3} title="No traffic in this range yet">
            Send a request through one of your proxies; roll-ups appear here within a minute.
          </EmptyState>
        ) : (
          <div className="grid gap-4 lg:grid-cols-3">
            <ChartCard title="Requests per minute">
              <AreaChart data={data} margin={{ top: 4, right: 4, bottom: 0, left: -16 }}>
                {grid}{xAxis}
                <YAxis tick={axis} axisLine={false} tickLine={false} allowDecimals={false} />
                <Tooltip labelFormatter={label} formatter={(v) => [fmtNum(v), 'RPM']} />
                <Area type="monotone" dataKey="rpm" stroke="#635BFF" fill="#635BFF" fillOpacity={0.12} strokeWidth={1.5} isAnimationActive={false} />
              </AreaChart>
            </ChartCard>
            <ChartCard title="Cache hit rate and error rate">
              <LineChart data={data} margin={{ top: 4, right: 4, bottom: 0, left: -16 }}>
                {grid}{xAxis}
                <YAxis tick={axis} axisLine={false} tickLine={false} domain={[0, 1]} tickFormatter={(v) => `${Math.round(v * 100)}%`} />
                <Tooltip labelFormatter={label} formatter={(v, n) => [fmtPct(v), n === 'cache_hit_rate' ? 'Cache hit rate' : 'Error rate']} />
                <Line type="monotone" dataKey="cache_hit_rate" stroke="#635BFF" strokeWidth={1.5} dot={false} isAnimationActive={false} />
                <Line type="monotone" dataKey="error_rate" stroke="#ef4444" strokeWidth={1.5} dot={false} isAnimationActive={false} />
              </LineChart>
            </ChartCard>
            <ChartCard title="Cost">
              <BarChart data={data} margin={{ top: 4, right: 4, bottom: 0, left: -8 }}>
                {grid}{xAxis}
                <YAxis tick={axis} axisLine={false} tickLine={false} tickFormatter={(v) => `$${v}`} />
                <Tooltip labelFormatter={label} formatter={(v) => [fmtUsd(v), 'Cost']} />
                <Bar dataKey="cost_usd" fill="#635BFF" radius={[2, 2, 0, 0]} isAnimationActive={false} />
              </BarChart>
            </ChartCard>
          </div>
        )}
      </div>
    </Card>
  )
}
