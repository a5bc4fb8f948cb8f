import { useState } from 'react'
import { Link } from 'react-router'
import { MailCheck } from 'lucide-react'
import { AuthTitle } from '../../components/AuthLayout.jsx'
import { Button } from '../../components/Button.jsx'
import { FormError, TextField } from '../../components/Field.jsx'
import { auth } from '../../lib/api.js'

export default function ForgotPassword() {
  const [email, setEmail] = useState('')
  const [error, setError] = useState('')
  const [formError, setFormError] = useState('')
  const [busy, setBusy] = useState(false)
  const [sent, setSent] = useState(false)

  const onSubmit = async (e) => {
    e.preventDefault()
    setFormError('')
    if (!email.trim()) return setError('Enter your email address.')
    setError('')
    setBusy(true)
    try {
      await auth.requestPasswordReset(email.trim())
      setSent(true)
    } catch (err) {
      setError(err.fieldErrors?.email || '')
      if (!err.fieldErrors?.email) setFormError(err.message)
    } finally {
      setBusy(false)
    }
  }

  if (sent)
    return (
      <div data-testid="reset-sent">
        <div className="mb-4 grid size-10 place-items-center rounded-full bg-accent-50 text-accent">
          <MailCheck className="size-5" aria-hidden />
        </div>
        <AuthTitle title="Check your inbox" subtitle={`If an account exists for ${email.trim()}, a link to reset the password is on its way.`} />
        <Link to="/login" className="text-sm font-medium text-accent hover:underline">
          Back to sign in
        </Link>
      </div>
    )

  return (
    <>
      <AuthTitle title="Reset your password" subtitle="We will email you a link to choose a new one." />
      <form onSubmit={onSubmit} noValidate className="space-y-4">
        <FormError message={formError} />
        <TextField label="Email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} error={error} data-testid="forgot-email" autoFocus />
        <Button type="submit" variant="primary" loading={busy} className="h-9 w-full justify-center" data-testid="forgot-submit">
          Send reset link
        </Button>
      </form>
      <p className="mt-5 text-center text-sm">
        <Link to="/login" className="font-medium text-accent hover:underline">
          Back to sign in
        </Link>
      </p>
    </>
  )
}
