import { useCallback, useState } from 'react'
import { LiveBadge } from '../../components/LiveBadge.jsx'
import { PageHeader } from '../../components/PageHeader.jsx'
import { useStatsStream } from '../../lib/live.js'
import { fmtInt, fmtNum, fmtPct, fmtUsd } from '../../lib/format.js'
import { MetricsCharts } from './MetricsCharts.jsx'
import { StatCard } from './StatCard.jsx'

const HISTORY = 60 // samples kept for each trend line (~1 per second)

export default function Dashboard() {
  const [stats, setStats] = useState(null)
  const [history, setHistory] = useState([])

  const onStats = useCallback((s) => {
    setStats(s)
    setHistory((h) => [...h.slice(-(HISTORY - 1)), s])
  }, [])
  const state = useStatsStream(onStats)

  const series = (key) => history.map((s, i) => ({ i, v: Number(s[key]) || 0 }))
  const v = (fn, key) => (stats ? fn(stats[key]) : undefined)

  return (
    <>
      <PageHeader title="Dashboard" description="Live numbers across all your proxies." slot={<LiveBadge state={state} />} />
      <div className="mb-6 grid grid-cols-2 gap-4 md:grid-cols-3 xl:grid-cols-6" data-testid="stat-cards">
        <StatCard label="Requests / min" value={v(fmtNum, 'rpm')} history={series('rpm')} testId="stat-rpm" />
        <StatCard label="Cache hit rate" value={v(fmtPct, 'cache_hit_rate')} history={series('cache_hit_rate')} testId="stat-hit-rate" />
        <StatCard label="Error rate" value={v(fmtPct, 'error_rate')} history={series('error_rate')} testId="stat-error-rate" color="#ef4444" />
        <StatCard label="Cost today" value={v(fmtUsd, 'cost_usd_today')} history={series('cost_usd_today')} testId="stat-cost" />
        <StatCard
          label="Proxies running"
          value={v(fmtInt, 'running_proxies')}
          sub={stats ? `${fmtInt(stats.stopped_proxies)} stopped` : undefined}
          history={series('running_proxies')}
          testId="stat-proxies"
        />
        <StatCard label="In flight" value={v(fmtInt, 'in_flight')} history={series('in_flight')} testId="stat-in-flight" />
      </div>
      <MetricsCharts />
    </>
  )
}
