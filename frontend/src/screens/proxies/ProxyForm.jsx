import { useEffect, useState } from 'react'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { Button } from '../../components/Button.jsx'
import { SidePanel } from '../../components/SidePanel.jsx'
import { CheckboxField, FormError, SelectField, TextArea, TextField } from '../../components/Field.jsx'
import { TokenInput } from '../../components/TokenInput.jsx'
import { api } from '../../lib/api.js'
import { useProviders } from '../../lib/session.js'
import { useToast } from '../../lib/toast.jsx'

const EMPTY = { name: '', provider: '', model_name: '', port: '', upstream_url: '', tls: false, replay: 'instant', description: '', tags: [] }

function toForm(p) {
  if (!p) return EMPTY
  return {
    name: p.name || '', provider: p.provider || '', model_name: p.model_name || '',
    port: p.port == null ? '' : String(p.port), upstream_url: p.upstream_url || '', tls: !!p.tls,
    replay: p.replay || 'instant', description: p.description || '', tags: p.tags || [],
  }
}

export function validateProxy(f) {
  const e = {}
  if (!f.name.trim()) e.name = 'Give the proxy a name.'
  if (!f.provider) e.provider = 'Choose a provider.'
  if (!f.model_name.trim()) e.model_name = 'Enter the model name (shown in the UI only).'
  if (f.port !== '') {
    const n = Number(f.port)
    if (!Number.isInteger(n) || n < 1 || n > 65535) e.port = 'Use a whole number from 1 to 65535, or leave empty.'
  }
  if (f.upstream_url && !/^https?:\/\/\S+$/.test(f.upstream_url.trim())) e.upstream_url = 'Enter a full URL starting with http:// or https://.'
  if (f.provider === 'azure_openai' && !f.upstream_url.trim()) e.upstream_url = 'Azure OpenAI needs your resource endpoint URL.'
  return e
}

function payload(f, original) {
  const body = {
    name: f.name.trim(), provider: f.provider, model_name: f.model_name.trim(),
    port: f.port === '' ? null : Number(f.port), tls: f.tls, replay: f.replay,
    description: f.description, tags: f.tags,
  }
  if (f.upstream_url.trim()) body.upstream_url = f.upstream_url.trim()
  else if (original?.upstream_url) body.upstream_url = ''
  if (!original && body.port === null) delete body.port
  return body
}

// Create or edit a proxy's basics in a side panel. `proxy` null = create.
export function ProxyForm({ open, onClose, proxy }) {
  const providers = useProviders()
  const qc = useQueryClient()
  const toast = useToast()
  const [form, setForm] = useState(EMPTY)
  const [errors, setErrors] = useState({})
  const [formError, setFormError] = useState('')

  // Reset when the panel opens (not on background refetches of the same proxy).
  const proxyId = proxy?.id
  useEffect(() => {
    if (open) {
      setForm(toForm(proxy))
      setErrors({})
      setFormError('')
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open, proxyId])

  const save = useMutation({
    mutationFn: (body) => (proxy ? api.updateProxy(proxy.id, body) : api.createProxy(body)),
    onSuccess: (saved) => {
      qc.invalidateQueries({ queryKey: ['proxies'] })
      if (saved?.id !== undefined) qc.setQueryData(['proxy', String(saved.id)], saved)
      toast.success(proxy ? `Saved ${saved?.name || form.name}.` : `Created ${saved?.name || form.name}.`)
      onClose()
    },
    onError: (err) => {
      const fe = err.fieldErrors || {}
      setErrors(fe)
      const known = Object.keys(fe).some((k) => k in EMPTY)
      setFormError(known ? '' : err.message)
    },
  })

  const onSubmit = (e) => {
    e.preventDefault()
    const local = validateProxy(form)
    setErrors(local)
    setFormError('')
    if (Object.keys(local).length) return
    save.mutate(payload(form, proxy))
  }

  const set = (k) => (e) => {
    const value = e.target.type === 'checkbox' ? e.target.checked : e.target.value
    setForm((f) => ({ ...f, [k]: value }))
    if (errors[k]) setErrors((x) => ({ ...x, [k]: undefined }))
  }
  const provider = (providers.data || []).find((p) => p.id === form.provider)

  return (
    <SidePanel
      open={open}
      onClose={onClose}
      testId="proxy-panel"
      title={proxy ? `Edit ${proxy.name}` : 'New proxy'}
      description={proxy ? 'Changes to port or upstream apply the next time the proxy starts.' : 'A local endpoint your SDK talks to instead of the provider.'}
      footer={
        <>
          <Button onClick={onClose} data-testid="proxy-cancel">Cancel</Button>
          <Button type="submit" form="proxy-form" variant="primary" loading={save.isPending} data-testid="proxy-save">
            {proxy ? 'Save changes' : 'Create proxy'}
          </Button>
        </>
      }
    >
      <form id="proxy-form" onSubmit={onSubmit} noValidate className="space-y-4">
        <FormError message={formError} />
        <h3 className="text-xs font-semibold tracking-wide text-slate-500 uppercase">Basics</h3>
        <TextField label="Name" value={form.name} onChange={set('name')} error={errors.name} data-testid="proxy-name" placeholder="e.g. openai-dev" autoFocus />
        <SelectField label="Provider" value={form.provider} onChange={set('provider')} error={errors.provider} data-testid="proxy-provider">
          <option value="">Choose a provider…</option>
          {(providers.data || []).map((p) => (
            <option key={p.id} value={p.id}>{p.name}</option>
          ))}
        </SelectField>
        <TextField label="Model name" value={form.model_name} onChange={set('model_name')} error={errors.model_name} hint="For display only; requests choose their own model." data-testid="proxy-model-name" placeholder="e.g. gpt-4o-mini" />
        <div className="grid grid-cols-2 gap-3">
          <TextField label="Port" inputMode="numeric" value={form.port} onChange={set('port')} error={errors.port} placeholder="Auto" data-testid="proxy-port" inputClassName="tabular" />
          <SelectField label="Cached stream replay" value={form.replay} onChange={set('replay')} error={errors.replay} data-testid="proxy-replay">
            <option value="instant">Instant</option>
            <option value="recorded">At recorded pace</option>
          </SelectField>
        </div>
        <TextField
          label="Upstream URL"
          value={form.upstream_url}
          onChange={set('upstream_url')}
          error={errors.upstream_url}
          placeholder={provider?.default_upstream_url || 'https://…'}
          hint={form.provider === 'azure_openai' ? 'Required: https://<resource>.openai.azure.com' : "Leave empty for the provider's official endpoint."}
          data-testid="proxy-upstream-url"
        />
        <CheckboxField label="Serve over HTTPS" hint="Uses a certificate signed by this server's own CA." checked={form.tls} onChange={set('tls')} data-testid="proxy-tls" />
        <h3 className="pt-2 text-xs font-semibold tracking-wide text-slate-500 uppercase">Details</h3>
        <TextArea label="Description" value={form.description} onChange={set('description')} error={errors.description} data-testid="proxy-description" />
        <TokenInput label="Tags" value={form.tags} onChange={(tags) => setForm((f) => ({ ...f, tags }))} error={errors.tags} placeholder="Type a tag, press Enter" testId="proxy-tags" />
      </form>
    </SidePanel>
  )
}
