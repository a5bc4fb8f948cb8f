import { useState } from 'react'
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router'
import { AuthTitle } from '../../components/AuthLayout.jsx'
import { Button } from '../../components/Button.jsx'
import { FormError, TextField } from '../../components/Field.jsx'
import { SocialButtons } from '../../components/SocialButtons.jsx'
import { auth } from '../../lib/api.js'
import { useApplyAuthResult, useSession } from '../../lib/session.js'

const safeNext = (n) => (n && n.startsWith('/') && !n.startsWith('//') ? n : '/')

export default function Login() {
  const session = useSession()
  const apply = useApplyAuthResult()
  const navigate = useNavigate()
  const [params] = useSearchParams()
  const next = safeNext(params.get('next'))
  const [form, setForm] = useState({ email: '', password: '' })
  const [errors, setErrors] = useState({})
  const [formError, setFormError] = useState('')
  const [busy, setBusy] = useState(false)

  if (session.data?.user) return <Navigate to={next} replace />

  const onSubmit = async (e) => {
    e.preventDefault()
    const local = {}
    if (!form.email.trim()) local.email = 'Enter your email address.'
    if (!form.password) local.password = 'Enter your password.'
    setErrors(local)
    setFormError('')
    if (Object.keys(local).length) return
    setBusy(true)
    try {
      const result = await auth.login(form.email.trim(), form.password)
      if (result.status === 409) {
        await session.refetch()
        navigate(next, { replace: true })
        return
      }
      apply(result)
      if (result.status === 200) navigate(next, { replace: true })
      else navigate('/account/verify-email', { state: { email: form.email.trim() } })
    } catch (err) {
      setErrors(err.fieldErrors || {})
      const general = err.fieldErrors && Object.keys(err.fieldErrors).length ? '' : err.message
      setFormError(general)
    } finally {
      setBusy(false)
    }
  }

  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value })
  return (
    <>
      <AuthTitle title="Sign in" subtitle="Welcome back to Rubberduck." />
      <form onSubmit={onSubmit} noValidate className="space-y-4" data-testid="login-form">
        <FormError message={formError} />
        <TextField label="Email" type="email" autoComplete="email" value={form.email} onChange={set('email')} error={errors.email} data-testid="login-email" autoFocus />
        <div>
          <TextField label="Password" type="password" autoComplete="current-password" value={form.password} onChange={set('password')} error={errors.password} data-testid="login-password" />
          <Link to="/account/password/reset" className="mt-1.5 inline-block text-[13px] font-medium text-accent hover:underline">
            Forgot password?
          </Link>
        </div>
        <Button type="submit" variant="primary" loading={busy} className="h-9 w-full justify-center" data-testid="login-submit">
          Sign in
        </Button>
      </form>
      <SocialButtons />
      <p className="mt-5 text-center text-sm text-slate-500">
        No account yet?{' '}
        <Link to="/signup" className="font-medium text-accent hover:underline" data-testid="to-signup">
          Create one
        </Link>
      </p>
    </>
  )
}
