import { useState } from 'react'
import { Link, useLocation } from 'react-router'
import { MailCheck } from 'lucide-react'
import { AuthTitle } from '../../components/AuthLayout.jsx'
import { Button } from '../../components/Button.jsx'
import { useEmailsGoToConsole } from '../../components/ConsoleEmailNote.jsx'
import { auth } from '../../lib/api.js'
import { useToast } from '../../lib/toast.jsx'

// "Check your inbox" after sign-up (or a login that still needs a verified email).
export default function CheckInbox() {
  const { state } = useLocation()
  const toast = useToast()
  const [busy, setBusy] = useState(false)
  const toConsole = useEmailsGoToConsole()
  const to = state?.email ? ` for ${state.email}` : ''

  const resend = async () => {
    setBusy(true)
    try {
      await auth.resendVerification()
      toast.success(toConsole ? 'Verification link printed again.' : 'Verification email sent again.')
    } catch (e) {
      toast.error(e.message || 'Could not resend the email.')
    } finally {
      setBusy(false)
    }
  }

  return (
    <div data-testid="check-inbox">
      <div className="mb-4 grid size-10 place-items-center rounded-full bg-accent-50 text-accent">
        <MailCheck className="size-5" aria-hidden />
      </div>
      {toConsole ? (
        <AuthTitle
          title="Check the server's console"
          subtitle={`No email service is configured, so the verification link${to} was printed in the server's console (where it runs) instead of sent. Open it to activate your account.`}
        />
      ) : (
        <AuthTitle
          title="Check your inbox"
          subtitle={
            state?.email
              ? `We sent a verification link to ${state.email}. Open it to activate your account.`
              : 'We sent you a verification link. Open it to activate your account.'
          }
        />
      )}
      <div className="flex items-center justify-between">
        <Button onClick={resend} loading={busy} data-testid="resend-verification">
          {toConsole ? 'Print it again' : 'Resend email'}
        </Button>
        <Link to="/login" className="text-sm font-medium text-accent hover:underline">
          Back to sign in
        </Link>
      </div>
    </div>
  )
}
