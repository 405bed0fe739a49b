import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Role, ServerInfo } from './types';

export interface Session {
  role: Role;
  authEnabled: boolean;
  server: ServerInfo | null;
  signOut: () => void;
}

export const SessionContext = createContext<Session>({
  role: 'none',
  authEnabled: false,
  server: null,
  signOut: () => {},
});

export const useSession = () => useContext(SessionContext);
export const useIsAdmin = () => useContext(SessionContext).role === 'admin';
