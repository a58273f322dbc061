import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useAuth } from "../contexts/AuthContext";

/** Renders `children` for a signed-in user (an admin, with `admin`); else sends to sign-in. */
export function RequireAuth({ children, admin = false }: { children: ReactNode; admin?: boolean }) {
  const { status, user } = useAuth();
  const location = useLocation();
  if (status === "loading") {
    return (
      <p className="loading" role="status">
        Loading…
      </p>
    );
  }
  if (status === "signed_out" || !user) {
    return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  }
  if (admin && user.role !== "admin") {
    return (
      <p role="alert" className="error">
        This page is for administrators.
      </p>
    );
  }
  return children;
}
