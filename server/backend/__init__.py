"""The public HTTP API of Sonta Attendance (port 3000): accounts, members, meetings, QR codes."""
