import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import * as api from "../lib/api";
import type { UserPublic } from "../realtime/protocol.gen";

/** Whether someone is signed in; `loading` until `GET /api/auth/me` has answered. */
export type AuthStatus = "loading" | "signed_in" | "signed_out";

/** What {@link useAuth} returns. */
export interface AuthValue {
  status: AuthStatus;
  user: UserPublic | null;
  /** Why the last session ended, when it was not the user's own sign-out. */
  notice: string | null;
  /** Sign in; rejects with {@link api.ApiError} (401 bad credentials, 429 throttled). */
  signIn: (username: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
  /** Ask the server whether the session still holds (e.g. after a refused socket). */
  recheck: () => Promise<void>;
  /** The server ended the session (socket closed with 4401): go to sign-in, saying why. */
  endSession: (notice: string) => void;
}

/** The auth context; exported so tests can provide a fixed value. */
export const AuthContext = createContext<AuthValue | null>(null);

/** Holds the signed-in user; checks the session cookie once on load. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<AuthStatus>("loading");
  const [user, setUser] = useState<UserPublic | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // Set by this tab's own sign-out until someone signs in again: the server closes this tab's
  // socket with 4401 too, before or after the logout response arrives, and that is no news.
  const signedOutHere = useRef(false);

  const adopt = useCallback((next: UserPublic | null) => {
    if (next) signedOutHere.current = false;
    setUser(next);
    setStatus(next ? "signed_in" : "signed_out");
  }, []);

  const recheck = useCallback(async () => {
    try {
      adopt(await api.currentUser());
    } catch {
      // Server unreachable: keep what we believe; the socket will keep retrying.
      setStatus((current) => (current === "loading" ? "signed_out" : current));
    }
  }, [adopt]);

  useEffect(() => {
    void recheck();
  }, [recheck]);

  const signIn = useCallback(
    async (username: string, password: string) => {
      const signedIn = await api.login(username, password);
      setNotice(null);
      adopt(signedIn);
    },
    [adopt],
  );

  const signOut = useCallback(async () => {
    signedOutHere.current = true;
    try {
      await api.logout();
    } finally {
      setNotice(null);
      adopt(null);
    }
  }, [adopt]);

  const endSession = useCallback(
    (why: string) => {
      setNotice(signedOutHere.current ? null : why);
      adopt(null);
    },
    [adopt],
  );

  const value = useMemo(
    () => ({ status, user, notice, signIn, signOut, recheck, endSession }),
    [status, user, notice, signIn, signOut, recheck, endSession],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** The signed-in user and the sign-in/out actions. */
export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth() must be used inside <AuthProvider>");
  return value;
}
