import { useId } from 'react'
import { Plus, X } from 'lucide-react'
import { Button, IconButton } from '../../components/Button.jsx'

// A probability 0..1 edited as a percentage with a slider and a number box.
export function RateSlider({ label, value, onChange, testId, error }) {
  const id = useId()
  const pct = Math.round((value ?? 0) * 100)
  const set = (v) => onChange(Math.max(0, Math.min(100, Number(v) || 0)) / 100)
  return (
    <div>
      {label && <label htmlFor={id} className="mb-1 block text-[13px] font-medium text-slate-700">{label}</label>}
      <div className="flex items-center gap-3">
        <input id={id} type="range" min={0} max={100} step={1} value={pct} onChange={(e) => set(e.target.value)} className="h-1.5 flex-1 accent-accent" data-testid={testId} aria-valuetext={`${pct}%`} />
        <div className="relative w-20">
          <input
            type="number" min={0} max={100} value={pct} onChange={(e) => set(e.target.value)}
            aria-label={`${label || 'Rate'} in percent`}
            className="h-8 w-full rounded-md border border-slate-300 pr-6 pl-2 text-right text-sm tabular"
            data-testid={testId && `${testId}-pct`}
          />
          <span className="pointer-events-none absolute top-1/2 right-2 -translate-y-1/2 text-xs text-slate-400">%</span>
        </div>
      </div>
      {error && <p className="mt-1 text-[13px] text-red-600">{error}</p>}
    </div>
  )
}

const COMMON = [429, 500, 503, 502, 504, 529, 400, 401, 403, 404, 408, 413]

// Error injection: a list of {status, rate}.
export function ErrorRates({ value, onChange, errors = {} }) {
  const update = (i, patch) => onChange(value.map((r, j) => (j === i ? { ...r, ...patch } : r)))
  const unused = COMMON.find((c) => !value.some((r) => Number(r.status) === c)) || 500
  return (
    <div className="space-y-3" data-testid="failure-errors">
      {value.length === 0 && <p className="text-sm text-slate-500">No injected errors. Add a status code to return it at a chosen rate.</p>}
      {value.map((row, i) => (
        <div key={i} className="grid grid-cols-[6.5rem_1fr_auto] items-start gap-3" data-testid="failure-error-row">
          <div>
            <input
              list="common-statuses" inputMode="numeric" value={row.status}
              onChange={(e) => update(i, { status: e.target.value.replace(/\D/g, '').slice(0, 3) })}
              aria-label={`Status code ${i + 1}`}
              aria-invalid={errors[`errors.${i}.status`] ? true : undefined}
              className={`h-8 w-full rounded-md border px-2 font-mono text-sm tabular ${errors[`errors.${i}.status`] ? 'border-red-400' : 'border-slate-300'}`}
              data-testid={`failure-error-status-${i}`}
            />
            {errors[`errors.${i}.status`] && <p className="mt-1 text-[13px] text-red-600">{errors[`errors.${i}.status`]}</p>}
          </div>
          <RateSlider label="" value={row.rate} onChange={(rate) => update(i, { rate })} testId={`failure-error-rate-${i}`} error={errors[`errors.${i}.rate`]} />
          <IconButton label={`Remove status ${row.status}`} onClick={() => onChange(value.filter((_, j) => j !== i))}>
            <X className="size-3.5" />
          </IconButton>
        </div>
      ))}
      <datalist id="common-statuses">
        {COMMON.map((c) => <option key={c} value={c} />)}
      </datalist>
      <Button size="sm" onClick={() => onChange([...value, { status: String(unused), rate: 0.1 }])} data-testid="failure-add-error">
        <Plus className="size-3.5" aria-hidden /> Add error code
      </Button>
    </div>
  )
}

// Loose check for an IP, CIDR range or wildcard pattern.
export function validateIpRule(s) {
  const v4 = /^(\d{1,3}|\*)(\.(\d{1,3}|\*)){3}(\/\d{1,2})?$/
  const v6 = /^[0-9a-fA-F:]+(\/\d{1,3})?$/
  if (v4.test(s) || (s.includes(':') && v6.test(s))) return ''
  return `“${s}” is not an IP address, CIDR range or wildcard pattern.`
}
