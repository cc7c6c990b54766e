"""The ports Dify's services listen on inside the deployment (as upstream's compose file)."""

API_PORT = 5001
WEB_PORT = 3000
SANDBOX_PORT = 8194
PLUGIN_DAEMON_PORT = 5002
PROXY_PORT = 3128
AGENT_BACKEND_PORT = 5050
LOCAL_SANDBOX_PORT = 5004
