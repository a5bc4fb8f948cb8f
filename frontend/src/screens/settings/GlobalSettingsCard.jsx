import { useEffect, useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Lock } from 'lucide-react'
import { Card, CardHeader } from '../../components/Card.jsx'
import { Button } from '../../components/Button.jsx'
import { CheckboxField, FormError, SelectField, TextField } from '../../components/Field.jsx'
import { Skeleton } from '../../components/Skeleton.jsx'
import { api } from '../../lib/api.js'
import { useProviders } from '../../lib/session.js'
import { useToast } from '../../lib/toast.jsx'

const WINDOWS = ['1m', '15m', '1h']

export function GlobalSettingsCard() {
  const qc = useQueryClient()
  const toast = useToast()
  const providers = useProviders()
  const settings = useQuery({ queryKey: ['settings'], queryFn: api.settings })
  const [form, setForm] = useState(null)
  const [errors, setErrors] = useState({})
  const [formError, setFormError] = useState('')

  useEffect(() => {
    if (settings.data) setForm(structuredClone(settings.data))
  }, [settings.data])

  const save = useMutation({
    mutationFn: (body) => api.saveSettings(body),
    onSuccess: (data) => {
      qc.setQueryData(['settings'], data)
      setErrors({})
      setFormError('')
      toast.success('Settings saved.')
    },
    onError: (e) => {
      setErrors(e.fieldErrors || {})
      setFormError(e.status === 403 ? 'Only staff can change global settings.' : e.message)
    },
  })

  if (settings.isLoading || (!form && !settings.isError))
    return <Card><CardHeader title="Global settings" /><div className="p-5"><Skeleton className="h-40" /></div></Card>
  if (settings.isError)
    return <Card><CardHeader title="Global settings" /><div className="p-5"><FormError message={settings.error.message} /></div></Card>

  const ro = !form.editable
  const int = (v) => (v === '' ? '' : Number(v))
  const setRetention = (w) => (e) => setForm((f) => ({ ...f, metrics_retention_days: { ...f.metrics_retention_days, [w]: int(e.target.value) } }))
  const setUpstream = (id) => (e) => setForm((f) => ({ ...f, default_upstreams: { ...f.default_upstreams, [id]: e.target.value } }))
  const upstreamIds = Array.from(new Set([...(providers.data || []).map((p) => p.id), ...Object.keys(form.default_upstreams || {})]))
  const providerName = (id) => (providers.data || []).find((p) => p.id === id)?.name || id

  const onSubmit = (e) => {
    e.preventDefault()
    const { editable, ...body } = form
    save.mutate(body)
  }

  return (
    <Card id="global">
      <CardHeader
        title="Global settings"
        description="Apply to the whole Rubberduck server."
        actions={ro && <span className="inline-flex items-center gap-1 text-xs font-medium text-slate-500" data-testid="settings-readonly"><Lock className="size-3.5" aria-hidden /> Read-only: staff can edit</span>}
      />
      <form onSubmit={onSubmit} noValidate className="space-y-6 p-5">
        <FormError message={formError} />
        <fieldset disabled={ro} className="space-y-6">
          <div className="grid gap-4 sm:grid-cols-4">
            <TextField label="Keep logs (days)" inputMode="numeric" value={form.log_retention_days ?? ''} onChange={(e) => setForm({ ...form, log_retention_days: int(e.target.value) })} error={errors.log_retention_days} data-testid="settings-log-retention" />
            {WINDOWS.map((w) => (
              <TextField key={w} label={`Keep ${w} metrics (days)`} inputMode="numeric" value={form.metrics_retention_days?.[w] ?? ''} onChange={setRetention(w)} error={errors[`metrics_retention_days.${w}`] || errors.metrics_retention_days} data-testid={`settings-metrics-${w}`} />
            ))}
          </div>
          <CheckboxField label="Open sign-up" hint="Anyone who can reach this server may create an account." checked={!!form.signup_open} onChange={(e) => setForm({ ...form, signup_open: e.target.checked })} data-testid="settings-signup-open" />
          <CheckboxField label="Private upstreams for everyone" hint="Every user's proxies may forward to loopback, private and link-local addresses (this server, its network, cloud metadata). Staff's always may." checked={!!form.allow_private_upstreams} onChange={(e) => setForm({ ...form, allow_private_upstreams: e.target.checked })} data-testid="settings-private-upstreams" />
          <SelectField label="This server's AWS credentials re-sign Bedrock requests for" hint="Only ever towards Bedrock's own hosts." value={form.server_aws_credentials ?? 'staff'} onChange={(e) => setForm({ ...form, server_aws_credentials: e.target.value })} error={errors.server_aws_credentials} className="sm:max-w-sm" data-testid="settings-aws-credentials">
            <option value="staff">Staff's proxies</option>
            <option value="everyone">Everyone's proxies</option>
            <option value="nobody">Nobody's proxies</option>
          </SelectField>
          <div>
            <h3 className="mb-2 text-sm font-semibold text-slate-900">Default upstreams</h3>
            <div className="grid gap-3 sm:grid-cols-2">
              {upstreamIds.map((id) => (
                <TextField key={id} label={providerName(id)} value={form.default_upstreams?.[id] ?? ''} onChange={setUpstream(id)} error={errors[`default_upstreams.${id}`]} placeholder="Official endpoint" data-testid={`settings-upstream-${id}`} inputClassName="font-mono text-[13px]" />
              ))}
            </div>
          </div>
          {!ro && <Button type="submit" variant="primary" loading={save.isPending} data-testid="settings-save">Save settings</Button>}
        </fieldset>
      </form>
    </Card>
  )
}
