import { useEffect, useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Card, CardHeader } from '../../components/Card.jsx'
import { Button } from '../../components/Button.jsx'
import { FormError, SelectField, TextField } from '../../components/Field.jsx'
import { Skeleton } from '../../components/Skeleton.jsx'
import { TokenInput } from '../../components/TokenInput.jsx'
import { api } from '../../lib/api.js'
import { useToast } from '../../lib/toast.jsx'
import { ErrorRates, RateSlider, validateIpRule } from './FailureFields.jsx'

const str = (v) => (v === undefined || v === null ? '' : String(v))
const num = (v) => (v === '' || v === null || v === undefined ? null : Number(v))

function toForm(c = {}) {
  return {
    timeoutMode: c.timeout?.mode || 'off', timeoutSeconds: str(c.timeout?.seconds ?? 5), timeoutRate: c.timeout?.rate ?? 1,
    errors: (c.errors || []).map((e) => ({ status: str(e.status), rate: e.rate ?? 0 })),
    ip_allow: c.ip_allow || [], ip_block: c.ip_block || [], rpm_limit: str(c.rpm_limit),
    cut: str(c.stream?.cut_after_events), delay: str(c.stream?.chunk_delay_ms), streamRate: c.stream?.rate ?? 1,
    seed: str(c.seed),
  }
}

function toConfig(f) {
  const c = {}
  if (f.timeoutMode !== 'off') c.timeout = { mode: f.timeoutMode, seconds: num(f.timeoutSeconds) ?? 0, rate: f.timeoutRate }
  if (f.errors.length) c.errors = f.errors.map((e) => ({ status: Number(e.status), rate: e.rate }))
  if (f.ip_allow.length) c.ip_allow = f.ip_allow
  if (f.ip_block.length) c.ip_block = f.ip_block
  if (f.rpm_limit !== '') c.rpm_limit = Number(f.rpm_limit)
  if (f.cut !== '' || f.delay !== '') c.stream = { cut_after_events: num(f.cut), chunk_delay_ms: num(f.delay), rate: f.streamRate }
  if (f.seed !== '') c.seed = Number(f.seed)
  return c
}

function validate(f) {
  const e = {}
  const isInt = (v, min = 0) => v === '' || (Number.isInteger(Number(v)) && Number(v) >= min)
  if (f.timeoutMode === 'delay' && !(Number(f.timeoutSeconds) > 0)) e['timeout.seconds'] = 'Enter a delay in seconds, above 0.'
  f.errors.forEach((r, i) => {
    const s = Number(r.status)
    if (!(s >= 400 && s <= 599)) e[`errors.${i}.status`] = 'Use a 4xx or 5xx code.'
  })
  if (!isInt(f.rpm_limit, 1)) e.rpm_limit = 'Use a whole number above 0, or leave empty for no limit.'
  if (!isInt(f.cut, 0)) e['stream.cut_after_events'] = 'Use a whole number of events.'
  if (!isInt(f.delay, 0)) e['stream.chunk_delay_ms'] = 'Use a whole number of milliseconds.'
  if (f.seed !== '' && !Number.isInteger(Number(f.seed))) e.seed = 'Use a whole number.'
  return e
}

function Section({ title, description, children }) {
  return (
    <div className="grid gap-4 border-b border-slate-100 px-5 py-5 last:border-0 md:grid-cols-[14rem_1fr]">
      <div>
        <h3 className="text-sm font-semibold text-slate-900">{title}</h3>
        <p className="mt-0.5 text-[13px] text-slate-500">{description}</p>
      </div>
      <div className="space-y-4">{children}</div>
    </div>
  )
}

export function FailureEditor({ proxy }) {
  const qc = useQueryClient()
  const toast = useToast()
  const query = useQuery({ queryKey: ['failures', proxy.id], queryFn: () => api.failures(proxy.id) })
  const [form, setForm] = useState(null)
  const [errors, setErrors] = useState({})
  const [formError, setFormError] = useState('')

  useEffect(() => {
    if (query.data && !form) setForm(toForm(query.data))
  }, [query.data, form])

  const save = useMutation({
    mutationFn: (config) => api.saveFailures(proxy.id, config),
    onSuccess: (saved) => {
      qc.setQueryData(['failures', proxy.id], saved)
      setForm(toForm(saved || {}))
      toast.success(`Failure settings of ${proxy.name} saved.`)
    },
    onError: (err) => {
      setErrors(err.fieldErrors || {})
      setFormError(err.message)
    },
  })

  if (query.isLoading || (!form && !query.isError)) return <Card className="p-5"><Skeleton className="h-48" /></Card>
  if (query.isError) return <Card className="p-5"><FormError message={`Could not load failure settings: ${query.error.message}`} /></Card>

  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v?.target ? v.target.value : v }))
  const onSubmit = (e) => {
    e.preventDefault()
    const local = validate(form)
    setErrors(local)
    setFormError('')
    if (!Object.keys(local).length) save.mutate(toConfig(form))
  }

  return (
    <Card>
      <CardHeader
        title="Failure simulation"
        description="Disturb requests on purpose. Failed responses are never cached."
        actions={<Button variant="primary" type="submit" form="failure-form" loading={save.isPending} data-testid="failures-save">Save failures</Button>}
      />
      <form id="failure-form" onSubmit={onSubmit} noValidate data-testid="failure-form">
        {formError && <div className="px-5 pt-4"><FormError message={formError} /></div>}
        <Section title="Timeouts" description="Delay a response, or hang until the client gives up.">
          <div className="grid grid-cols-2 gap-3">
            <SelectField label="Mode" value={form.timeoutMode} onChange={set('timeoutMode')} data-testid="failure-timeout-mode">
              <option value="off">Off</option>
              <option value="delay">Delay, then answer</option>
              <option value="hang">Hang (never answer)</option>
            </SelectField>
            {form.timeoutMode === 'delay' && (
              <TextField label="Delay (seconds)" inputMode="decimal" value={form.timeoutSeconds} onChange={set('timeoutSeconds')} error={errors['timeout.seconds']} data-testid="failure-timeout-seconds" />
            )}
          </div>
          {form.timeoutMode !== 'off' && <RateSlider label="Applies to" value={form.timeoutRate} onChange={set('timeoutRate')} testId="failure-timeout-rate" />}
        </Section>
        <Section title="Error injection" description="Answer with these statuses, in the provider's own error format.">
          <ErrorRates value={form.errors} onChange={set('errors')} errors={errors} />
        </Section>
        <Section title="Access and rate" description="Exact IPs, CIDR ranges (10.0.0.0/8) or wildcards (192.168.*.*).">
          <TokenInput label="Allow only" value={form.ip_allow} onChange={set('ip_allow')} validate={validateIpRule} error={errors.ip_allow} placeholder="Everyone allowed" testId="failure-ip-allow" />
          <TokenInput label="Block" value={form.ip_block} onChange={set('ip_block')} validate={validateIpRule} error={errors.ip_block} placeholder="Nobody blocked" testId="failure-ip-block" />
          <TextField label="Requests per minute" inputMode="numeric" value={form.rpm_limit} onChange={set('rpm_limit')} error={errors.rpm_limit} placeholder="No limit" hint="Over the limit, the provider's own 429 is returned." data-testid="failure-rpm" className="max-w-48" />
        </Section>
        <Section title="Stream chaos" description="Disturbs streamed answers, live or replayed.">
          <div className="grid grid-cols-2 gap-3">
            <TextField label="Cut after events" inputMode="numeric" value={form.cut} onChange={set('cut')} error={errors['stream.cut_after_events']} placeholder="Never" data-testid="failure-stream-cut" />
            <TextField label="Chunk delay (ms)" inputMode="numeric" value={form.delay} onChange={set('delay')} error={errors['stream.chunk_delay_ms']} placeholder="0" data-testid="failure-stream-delay" />
          </div>
          {(form.cut !== '' || form.delay !== '') && <RateSlider label="Applies to" value={form.streamRate} onChange={set('streamRate')} testId="failure-stream-rate" />}
        </Section>
        <Section title="Seed" description="Makes every random draw of this proxy reproducible.">
          <TextField label="Seed" inputMode="numeric" value={form.seed} onChange={set('seed')} error={errors.seed} placeholder="Random" data-testid="failure-seed" className="max-w-48" />
        </Section>
      </form>
    </Card>
  )
}
