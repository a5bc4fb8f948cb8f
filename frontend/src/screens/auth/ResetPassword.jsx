import { useState } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { CheckCircle2 } from 'lucide-react'
import { AuthTitle } from '../../components/AuthLayout.jsx'
import { Button } from '../../components/Button.jsx'
import { FormError, TextField } from '../../components/Field.jsx'
import { auth } from '../../lib/api.js'
import { useApplyAuthResult } from '../../lib/session.js'

// Landing page of the reset link: /account/password/reset/key/:key
export default function ResetPassword() {
  const { key } = useParams()
  const apply = useApplyAuthResult()
  const navigate = useNavigate()
  const [password, setPassword] = useState('')
  const [errors, setErrors] = useState({})
  const [formError, setFormError] = useState('')
  const [busy, setBusy] = useState(false)
  const [done, setDone] = useState(false)

  const onSubmit = async (e) => {
    e.preventDefault()
    setFormError('')
    if (password.length < 8) return setErrors({ password: 'Use at least 8 characters.' })
    setErrors({})
    setBusy(true)
    try {
      const result = await auth.resetPassword(key, password)
      if (result.status === 200) {
        apply(result)
        navigate('/', { replace: true })
      } else setDone(true)
    } catch (err) {
      const fe = err.fieldErrors || {}
      setErrors(fe)
      if (!fe.password) setFormError(fe.key ? 'This reset link is invalid or has expired.' : err.message)
    } finally {
      setBusy(false)
    }
  }

  if (done)
    return (
      <div data-testid="reset-done">
        <CheckCircle2 className="mb-3 size-8 text-emerald-500" aria-hidden />
        <AuthTitle title="Password changed" subtitle="Sign in with your new password." />
        <Link to="/login" className="text-sm font-medium text-accent hover:underline">
          Sign in
        </Link>
      </div>
    )

  return (
    <>
      <AuthTitle title="Choose a new password" />
      <form onSubmit={onSubmit} noValidate className="space-y-4">
        <FormError message={formError} />
        <TextField label="New password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} error={errors.password} hint="At least 8 characters." data-testid="reset-password" autoFocus />
        <Button type="submit" variant="primary" loading={busy} className="h-9 w-full justify-center" data-testid="reset-submit">
          Set new password
        </Button>
      </form>
    </>
  )
}
