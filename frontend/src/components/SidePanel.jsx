import { Dialog, DialogBackdrop, DialogPanel, DialogTitle } from '@headlessui/react'
import { X } from 'lucide-react'

// A right-hand slide-over for create/edit forms. `footer` stays pinned at the bottom.
export function SidePanel({ open, onClose, title, description, children, footer, testId = 'side-panel' }) {
  return (
    <Dialog open={open} onClose={onClose} className="relative z-40">
      <DialogBackdrop transition className="fixed inset-0 bg-slate-900/20 transition-opacity duration-200 data-closed:opacity-0" />
      <div className="fixed inset-y-0 right-0 flex max-w-full">
        <DialogPanel
          transition
          data-testid={testId}
          className="flex h-full w-screen max-w-lg flex-col border-l border-slate-200 bg-white shadow-2xl transition duration-200 ease-out data-closed:translate-x-full"
        >
          <div className="flex items-start justify-between border-b border-slate-200 px-6 py-4">
            <div>
              <DialogTitle className="text-base font-semibold text-slate-900">{title}</DialogTitle>
              {description && <p className="mt-0.5 text-sm text-slate-500">{description}</p>}
            </div>
            <button type="button" onClick={onClose} aria-label="Close panel" className="rounded p-1 text-slate-400 hover:bg-slate-100 hover:text-slate-700">
              <X className="size-4" />
            </button>
          </div>
          <div className="flex-1 overflow-y-auto px-6 py-5">{children}</div>
          {footer && <div className="flex justify-end gap-2 border-t border-slate-200 bg-slate-50 px-6 py-3">{footer}</div>}
        </DialogPanel>
      </div>
    </Dialog>
  )
}
