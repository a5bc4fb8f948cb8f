import { Terminal } from 'lucide-react'
import { useAuthConfig } from '../lib/session.js'

// Without an email service the server prints each email (and its link) in its console instead of sending it.
export function useEmailsGoToConsole() {
  return useAuthConfig().data?.meta?.email_to_console === true
}

export function ConsoleEmailNote({ children }) {
  if (!useEmailsGoToConsole()) return null
  return (
    <div
      className="mb-4 flex gap-2 rounded-md border border-amber-200 bg-amber-50 px-3 py-2 text-[13px] text-amber-900"
      data-testid="console-email-note"
    >
      <Terminal className="mt-0.5 size-4 shrink-0" aria-hidden />
      <p>{children}</p>
    </div>
  )
}
