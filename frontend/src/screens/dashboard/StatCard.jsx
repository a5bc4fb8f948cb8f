import { Line, LineChart, ResponsiveContainer, YAxis } from 'recharts'
import { Skeleton } from '../../components/Skeleton.jsx'

// One live number with a small trend line of its recent values.
export function StatCard({ label, value, sub, history, testId, color = '#635BFF' }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white px-4 pt-3.5 pb-2" data-testid={testId}>
      <p className="text-[13px] font-medium text-slate-500">{label}</p>
      <div className="mt-1 flex h-8 items-baseline gap-2">
        {value === undefined ? (
          <Skeleton className="h-6 w-20" />
        ) : (
          <span className="text-2xl font-semibold tracking-tight text-slate-900 tabular" data-testid={testId && `${testId}-value`}>{value}</span>
        )}
        {sub && <span className="text-xs text-slate-500 tabular">{sub}</span>}
      </div>
      <div className="mt-1 h-9" aria-hidden>
        {history && history.length > 1 && (
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={history} margin={{ top: 4, right: 0, bottom: 4, left: 0 }}>
              <YAxis hide domain={['dataMin', 'dataMax']} />
              <Line type="monotone" dataKey="v" stroke={color} strokeWidth={1.5} dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        )}
      </div>
    </div>
  )
}
