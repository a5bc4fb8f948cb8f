import { useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { KeyRound, ShieldAlert } from 'lucide-react'
import { Card, CardHeader } from '../../components/Card.jsx'
import { Button } from '../../components/Button.jsx'
import { ConfirmDialog } from '../../components/ConfirmDialog.jsx'
import { CopyButton } from '../../components/CopyButton.jsx'
import { EmptyState } from '../../components/EmptyState.jsx'
import { FormError, TextField } from '../../components/Field.jsx'
import { SkeletonRows } from '../../components/Skeleton.jsx'
import { api } from '../../lib/api.js'
import { fmtDateTime, fmtRelative } from '../../lib/format.js'
import { useToast } from '../../lib/toast.jsx'

export function TokensCard() {
  const qc = useQueryClient()
  const toast = useToast()
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: api.tokens })
  const [name, setName] = useState('')
  const [error, setError] = useState('')
  const [created, setCreated] = useState(null)
  const [revoking, setRevoking] = useState(null)

  const create = useMutation({
    mutationFn: () => api.createToken(name.trim()),
    onSuccess: (t) => {
      setCreated(t)
      setName('')
      setError('')
      qc.invalidateQueries({ queryKey: ['tokens'] })
    },
    onError: (e) => setError(e.fieldErrors?.name || e.message),
  })
  const revoke = useMutation({
    mutationFn: (t) => api.revokeToken(t.id),
    onSuccess: (_, t) => {
      qc.setQueryData(['tokens'], (list) => list && list.filter((x) => x.id !== t.id))
      toast.success(`Revoked “${t.name}”.`)
      setRevoking(null)
    },
    onError: (e) => toast.error(`Could not revoke: ${e.message}`),
  })

  const onCreate = (e) => {
    e.preventDefault()
    if (!name.trim()) return setError('Name the token after what will use it, e.g. “CI”.')
    create.mutate()
  }

  const list = tokens.data || []
  return (
    <Card id="tokens">
      <CardHeader title="API tokens" description="For scripts and test suites: send as Authorization: Token <key>." />
      <form onSubmit={onCreate} noValidate className="flex items-start gap-2 border-b border-slate-100 px-5 py-4">
        <TextField aria-label="Token name" placeholder="Token name, e.g. CI" value={name} onChange={(e) => setName(e.target.value)} error={error} className="w-72" data-testid="token-name" />
        <Button type="submit" variant="primary" loading={create.isPending} data-testid="token-create">Create token</Button>
      </form>
      {created && (
        <div className="mx-5 mt-4 rounded-md border border-amber-200 bg-amber-50 p-4" data-testid="token-created" role="status">
          <div className="flex items-start gap-2 text-sm text-amber-900">
            <ShieldAlert className="mt-0.5 size-4 shrink-0" aria-hidden />
            <p><span className="font-medium">Copy “{created.name}” now.</span> This is the only time the key is shown; only its hash is stored.</p>
          </div>
          <div className="mt-3 flex items-center gap-2 rounded border border-amber-200 bg-white px-3 py-2">
            <code className="flex-1 font-mono text-[13px] break-all text-slate-900" data-testid="token-key">{created.key}</code>
            <CopyButton text={created.key} label="Copy key" testId="token-copy" />
          </div>
          <Button size="sm" variant="ghost" className="mt-2" onClick={() => setCreated(null)} data-testid="token-dismiss">I have copied it</Button>
        </div>
      )}
      {tokens.isLoading ? (
        <SkeletonRows rows={2} />
      ) : tokens.isError ? (
        <div className="p-5"><FormError message={tokens.error.message} /></div>
      ) : list.length === 0 ? (
        <EmptyState icon={KeyRound} title="No API tokens">Create one to drive Rubberduck from scripts or CI.</EmptyState>
      ) : (
        <table className="mt-2 w-full text-[13px]">
          <thead className="text-left text-xs text-slate-500">
            <tr>
              <th scope="col" className="px-5 py-2 font-medium">Name</th>
              <th scope="col" className="px-3 py-2 font-medium">Key</th>
              <th scope="col" className="px-3 py-2 font-medium">Created</th>
              <th scope="col" className="px-3 py-2 font-medium">Last used</th>
              <th scope="col" className="px-5 py-2"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 border-t border-slate-100">
            {list.map((t) => (
              <tr key={t.id} data-testid={`token-row-${t.name}`}>
                <td className="px-5 py-2.5 font-medium text-slate-900">{t.name}</td>
                <td className="px-3 py-2.5 font-mono text-xs text-slate-600">{t.prefix}…</td>
                <td className="px-3 py-2.5 text-slate-600 tabular">{fmtDateTime(t.created_at)}</td>
                <td className="px-3 py-2.5 text-slate-600">{fmtRelative(t.last_used_at)}</td>
                <td className="px-5 py-2.5 text-right">
                  <Button size="sm" onClick={() => setRevoking(t)} data-testid={`token-revoke-${t.name}`} className="hover:text-red-600">Revoke</Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="h-3" />
      <ConfirmDialog
        open={!!revoking}
        onClose={() => setRevoking(null)}
        onConfirm={() => revoke.mutate(revoking)}
        loading={revoke.isPending}
        title={`Revoke “${revoking?.name}”?`}
        description="Anything still using this token gets 401 from now on. This cannot be undone."
        confirmLabel="Revoke token"
      />
    </Card>
  )
}
