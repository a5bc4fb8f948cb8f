import { useEffect, useState } from 'react'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { Card, CardHeader } from '../../components/Card.jsx'
import { Button } from '../../components/Button.jsx'
import { TextField } from '../../components/Field.jsx'
import { Skeleton } from '../../components/Skeleton.jsx'
import { api } from '../../lib/api.js'
import { useMe } from '../../lib/session.js'
import { useToast } from '../../lib/toast.jsx'

export function ProfileCard() {
  const me = useMe()
  const qc = useQueryClient()
  const toast = useToast()
  const [name, setName] = useState('')
  const [error, setError] = useState('')
  useEffect(() => {
    if (me.data) setName(me.data.name || '')
  }, [me.data])

  const save = useMutation({
    mutationFn: () => api.updateMe({ name: name.trim() }),
    onSuccess: (data) => {
      qc.setQueryData(['me'], (old) => ({ ...old, ...data }))
      setError('')
      toast.success('Profile saved.')
    },
    onError: (e) => setError(e.fieldErrors?.name || e.message),
  })

  return (
    <Card id="profile">
      <CardHeader title="Profile" description="How you appear in Rubberduck." />
      {me.isLoading ? (
        <div className="p-5"><Skeleton className="h-20" /></div>
      ) : (
        <form className="grid gap-4 p-5 sm:grid-cols-2" onSubmit={(e) => { e.preventDefault(); save.mutate() }} noValidate>
          <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} error={error} data-testid="profile-name" autoComplete="name" />
          <TextField label="Email" value={me.data?.email || ''} disabled hint="Your sign-in address." data-testid="profile-email" />
          <div className="sm:col-span-2">
            <Button type="submit" variant="primary" loading={save.isPending} disabled={name === (me.data?.name || '')} data-testid="profile-save">
              Save profile
            </Button>
          </div>
        </form>
      )}
    </Card>
  )
}
