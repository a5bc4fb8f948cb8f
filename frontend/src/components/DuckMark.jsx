export function DuckMark({ className = 'size-7' }) {
  return (
    <svg viewBox="0 0 32 32" className={className} aria-hidden>
      <rect width="32" height="32" rx="8" fill="#635BFF" />
      <path
        d="M19.5 8.5a4 4 0 0 1 3.9 3.1l2.6.6-2.4 1.3a4 4 0 0 1-1.3 2.2c1.9.9 3.2 2.6 3.2 4.8 0 3.4-3.4 5-8 5h-2.5c-4.4 0-7.5-2.4-7.5-6.2 0-.6.6-1 1.1-.7 1.3.8 3 1 4.4.5-1-1-1.5-2.4-1.5-3.9a4 4 0 0 1 4-4h.1a4 4 0 0 1 3.9-2.7z"
        fill="#FFD54A"
      />
      <circle cx="20" cy="12" r="1.1" fill="#1e1b4b" />
    </svg>
  )
}
