"""The outbound campaign runtime: the dialer cores (`duplex.dialer`) driven over the live call layer.

`service.CampaignService` starts, pauses and stops campaigns; `runtime.CampaignRuntime` is one running
campaign (pacing, the lead hopper, compliance at dial time, every decision an event); `attempt` carries one
call to a lead (trunk, call progress, AMD, an agent or the safe-harbour message); `agents.AgentPool` is what
the runtime needs of agents.
"""
