import { useState } from 'react'
import { Link, Navigate, useNavigate } from 'react-router'
import { AuthTitle } from '../../components/AuthLayout.jsx'
import { Button } from '../../components/Button.jsx'
import { ConsoleEmailNote } from '../../components/ConsoleEmailNote.jsx'
import { FormError, TextField } from '../../components/Field.jsx'
import { SocialButtons } from '../../components/SocialButtons.jsx'
import { auth } from '../../lib/api.js'
import { useApplyAuthResult, useSession } from '../../lib/session.js'

export default function Signup() {
  const session = useSession()
  const apply = useApplyAuthResult()
  const navigate = useNavigate()
  const [form, setForm] = useState({ email: '', password: '' })
  const [errors, setErrors] = useState({})
  const [formError, setFormError] = useState('')
  const [busy, setBusy] = useState(false)

  if (session.data?.user) return <Navigate to="/" replace />

  const validate = () => {
    const e = {}
    if (!form.email.trim()) e.email = 'Enter your email address.'
    else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(form.email.trim())) e.email = 'Enter a valid email address.'
    if (!form.password) e.password = 'Choose a password.'
    else if (form.password.length < 8) e.password = 'Use at least 8 characters.'
    return e
  }

  const onSubmit = async (e) => {
    e.preventDefault()
    const local = validate()
    setErrors(local)
    setFormError('')
    if (Object.keys(local).length) return
    setBusy(true)
    try {
      const result = await auth.signup(form.email.trim(), form.password)
      apply(result)
      if (result.status === 200) navigate('/', { replace: true })
      else navigate('/account/verify-email', { state: { email: form.email.trim() } })
    } catch (err) {
      setErrors(err.fieldErrors || {})
      setFormError(err.fieldErrors && Object.keys(err.fieldErrors).length ? '' : err.message)
    } finally {
      setBusy(false)
    }
  }

  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value })
  return (
    <>
      <AuthTitle title="Create your account" subtitle="Cache, replay and break your LLM calls on purpose." />
      <ConsoleEmailNote>
        No email service is configured: the verification link will be printed in the server&apos;s console (where
        it runs), not sent.
      </ConsoleEmailNote>
      <form onSubmit={onSubmit} noValidate className="space-y-4" data-testid="signup-form">
        <FormError message={formError} />
        <TextField label="Email" type="email" autoComplete="email" value={form.email} onChange={set('email')} error={errors.email} data-testid="signup-email" autoFocus />
        <TextField label="Password" type="password" autoComplete="new-password" value={form.password} onChange={set('password')} error={errors.password} hint="At least 8 characters." data-testid="signup-password" />
        <Button type="submit" variant="primary" loading={busy} className="h-9 w-full justify-center" data-testid="signup-submit">
          Create account
        </Button>
      </form>
      <SocialButtons />
      <p className="mt-5 text-center text-sm text-slate-500">
        Already have an account?{' '}
        <Link to="/login" className="font-medium text-accent hover:underline" data-testid="to-login">
          Sign in
        </Link>
      </p>
    </>
  )
}
