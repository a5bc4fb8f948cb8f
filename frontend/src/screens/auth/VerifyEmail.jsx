import { useEffect, useRef, useState } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { CheckCircle2, XCircle, Loader2 } from 'lucide-react'
import { AuthTitle } from '../../components/AuthLayout.jsx'
import { auth } from '../../lib/api.js'
import { useApplyAuthResult } from '../../lib/session.js'

// Landing page of the link in the verification email: /account/verify-email/:key
export default function VerifyEmail() {
  const { key } = useParams()
  const apply = useApplyAuthResult()
  const navigate = useNavigate()
  const [state, setState] = useState({ phase: 'working' })
  const started = useRef(false)

  useEffect(() => {
    if (started.current) return
    started.current = true
    auth
      .verifyEmail(key)
      .then((result) => {
        apply(result)
        setState({ phase: 'done', loggedIn: result.status === 200 })
        if (result.status === 200) setTimeout(() => navigate('/', { replace: true }), 1200)
      })
      .catch((err) => setState({ phase: 'failed', message: err.message }))
  }, [key, apply, navigate])

  if (state.phase === 'working')
    return (
      <div className="flex items-center gap-2 text-sm text-slate-600" role="status">
        <Loader2 className="size-4 animate-spin" aria-hidden /> Verifying your email…
      </div>
    )
  if (state.phase === 'failed')
    return (
      <div data-testid="verify-failed">
        <XCircle className="mb-3 size-8 text-red-500" aria-hidden />
        <AuthTitle title="This link did not work" subtitle={state.message || 'It may have expired or been used already.'} />
        <Link to="/login" className="text-sm font-medium text-accent hover:underline">
          Sign in to request a new link
        </Link>
      </div>
    )
  return (
    <div data-testid="verify-done">
      <CheckCircle2 className="mb-3 size-8 text-emerald-500" aria-hidden />
      <AuthTitle title="Email verified" subtitle={state.loggedIn ? 'Taking you to your dashboard…' : 'You can sign in now.'} />
      {!state.loggedIn && (
        <Link to="/login" className="text-sm font-medium text-accent hover:underline" data-testid="verified-sign-in">
          Sign in
        </Link>
      )}
    </div>
  )
}
