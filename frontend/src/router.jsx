import { lazy } from 'react'
import { createBrowserRouter } from 'react-router'
import { AppLayout } from './components/AppLayout.jsx'
import { AuthLayout } from './components/AuthLayout.jsx'

// Every screen is its own chunk (route-level code splitting).
const Dashboard = lazy(() => import('./screens/dashboard/Dashboard.jsx'))
const Proxies = lazy(() => import('./screens/proxies/Proxies.jsx'))
const ProxyDetail = lazy(() => import('./screens/proxies/ProxyDetail.jsx'))
const Logs = lazy(() => import('./screens/logs/Logs.jsx'))
const Settings = lazy(() => import('./screens/settings/Settings.jsx'))
const Users = lazy(() => import('./screens/users/Users.jsx'))
const Login = lazy(() => import('./screens/auth/Login.jsx'))
const Signup = lazy(() => import('./screens/auth/Signup.jsx'))
const VerifyEmail = lazy(() => import('./screens/auth/VerifyEmail.jsx'))
const CheckInbox = lazy(() => import('./screens/auth/CheckInbox.jsx'))
const ForgotPassword = lazy(() => import('./screens/auth/ForgotPassword.jsx'))
const ResetPassword = lazy(() => import('./screens/auth/ResetPassword.jsx'))
const NotFound = lazy(() => import('./screens/NotFound.jsx'))

export const router = createBrowserRouter([
  {
    element: <AuthLayout />,
    children: [
      { path: '/login', element: <Login /> },
      { path: '/signup', element: <Signup /> },
      { path: '/account/verify-email', element: <CheckInbox /> },
      { path: '/account/verify-email/:key', element: <VerifyEmail /> },
      { path: '/account/password/reset', element: <ForgotPassword /> },
      { path: '/account/password/reset/key/:key', element: <ResetPassword /> },
    ],
  },
  {
    element: <AppLayout />,
    children: [
      { path: '/', element: <Dashboard /> },
      { path: '/proxies', element: <Proxies /> },
      { path: '/proxies/:id', element: <ProxyDetail /> },
      { path: '/logs', element: <Logs /> },
      { path: '/settings', element: <Settings /> },
      { path: '/users', element: <Users /> },
      { path: '*', element: <NotFound /> },
    ],
  },
])
