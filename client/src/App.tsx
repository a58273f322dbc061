import { lazy, Suspense } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { NotificationsProvider } from "./components/Notifications/NotificationsContext";
import { AppShell } from "./components/Shell/AppShell";
import { AuthProvider } from "./contexts/AuthContext";
import { ThemeProvider } from "./contexts/ThemeContext";
import { WebSocketProvider } from "./contexts/WebSocketContext";
import { AdminPage } from "./routes/AdminPage";
import { ChatPage } from "./routes/ChatPage";
import { DocumentsPage } from "./routes/DocumentsPage";
import { LoginPage } from "./routes/LoginPage";
import { RequireAuth } from "./routes/RequireAuth";

// The MCP page brings the terminal widget (xterm): loaded only when an administrator opens it.
const McpPage = lazy(() => import("./routes/McpPage").then((module) => ({ default: module.McpPage })));

/** The routes; the signed-in ones share the shell. */
export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <AppShell />
          </RequireAuth>
        }
      >
        <Route path="/documents" element={<DocumentsPage />} />
        <Route path="/chat" element={<ChatPage />} />
        <Route
          path="/admin"
          element={
            <RequireAuth admin>
              <AdminPage />
            </RequireAuth>
          }
        />
        <Route
          path="/admin/mcp/:installId?"
          element={
            <RequireAuth admin>
              <Suspense fallback={<p>Loading…</p>}>
                <McpPage />
              </Suspense>
            </RequireAuth>
          }
        />
      </Route>
      <Route path="*" element={<Navigate to="/documents" replace />} />
    </Routes>
  );
}

/** The application: providers, then routes. */
export function App() {
  return (
    <ThemeProvider>
      <AuthProvider>
        <WebSocketProvider>
          <NotificationsProvider>
            <BrowserRouter>
              <AppRoutes />
            </BrowserRouter>
          </NotificationsProvider>
        </WebSocketProvider>
      </AuthProvider>
    </ThemeProvider>
  );
}
