import { Link } from 'react-router'
import { Card } from '../components/Card.jsx'
import { EmptyState } from '../components/EmptyState.jsx'
import { Compass } from 'lucide-react'

export default function NotFound() {
  return (
    <Card>
      <EmptyState icon={Compass} title="Page not found" testId="not-found">
        There is nothing at this address. <Link to="/" className="font-medium text-accent hover:underline">Go to the dashboard</Link>.
      </EmptyState>
    </Card>
  )
}
