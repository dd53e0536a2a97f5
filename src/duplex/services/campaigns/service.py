"""The campaigns running on this node: start, pause and stop by id (what the API calls)."""

from __future__ import annotations

import asyncio
import datetime as dt

from duplex.dialer.types import CampaignStatus, DialMode
from duplex.services.calls.call import CallControl
from duplex.services.campaigns.acd_pool import AcdAgentPool
from duplex.services.campaigns.agents import AgentPool
from duplex.services.campaigns.runtime import CampaignRuntime, RuntimeOptions
from duplex.services.contact_center import ContactCenter
from duplex.stores.campaign_store import CampaignRow, CampaignStore, filter_problem

__all__ = ["CampaignConfigError", "CampaignService", "UnknownCampaign", "check_config"]


class UnknownCampaign(LookupError):
    pass


class CampaignConfigError(ValueError):
    """A campaign that cannot run as configured; `key` names the column at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def check_config(campaign: CampaignRow, trunk_ids: set[int]) -> None:
    """Refuse, naming the key, what would leave a started campaign dialing nothing or dialing wrongly."""
    if campaign.calling_hours_start >= campaign.calling_hours_end:
        raise CampaignConfigError("calling_hours_start", "must be before calling_hours_end")
    if campaign.trunk_id is None or campaign.trunk_id not in trunk_ids:
        raise CampaignConfigError("trunk_id", "the campaign needs an enabled trunk to dial through")
    problem = filter_problem(campaign.lead_filter)
    if problem is not None:
        raise CampaignConfigError("lead_filter", problem)
    if campaign.dial_mode is DialMode.AGENTLESS and not campaign.broadcast_prompt:
        raise CampaignConfigError("broadcast_prompt", "an agentless campaign needs the message it plays")


class CampaignService:
    """The campaigns of a node; their agents are the node's contact center's (`AcdAgentPool`)."""

    def __init__(self, control: CallControl, store: CampaignStore, center: ContactCenter, *,
                 options: RuntimeOptions | None = None) -> None:  # fmt: skip
        self.control, self.store, self.center = control, store, center
        self.options = options or RuntimeOptions()
        self.runtimes: dict[int, CampaignRuntime] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def agent_pool(self, campaign: CampaignRow) -> AgentPool:
        return AcdAgentPool(self.center, campaign, ring_timeout=self.options.connect_within)

    async def start(self, campaign_id: int) -> CampaignRuntime:
        self._loop = asyncio.get_running_loop()
        runtime = self.runtimes.get(campaign_id)
        if runtime is None or runtime.stopped.is_set():
            campaign = await asyncio.to_thread(self.store.campaign, campaign_id)
            if campaign is None:
                raise UnknownCampaign(campaign_id)
            check_config(campaign, {t.id for t in self.control.trunks.trunks if t.enabled})
            answers = await asyncio.to_thread(self.store.live_answers, campaign_id)
            pool = self.agent_pool(campaign)
            runtime = CampaignRuntime(self.control, self.store, campaign, pool, options=self.options,
                                      answers=answers)  # fmt: skip
            self.runtimes[campaign_id] = runtime
        await runtime.start()
        return runtime

    def get(self, campaign_id: int) -> CampaignRuntime:
        runtime = self.runtimes.get(campaign_id)
        if runtime is None:
            raise UnknownCampaign(campaign_id)
        return runtime

    def pause(self, campaign_id: int) -> CampaignStatus:
        runtime = self.get(campaign_id)
        runtime.pause()
        return runtime.status

    async def stop(self, campaign_id: int) -> CampaignStatus:
        runtime = self.get(campaign_id)
        await runtime.stop()
        return runtime.status

    def dnc_added(self, phone: str) -> None:
        """A number went on the internal DNC list (an opt-out disposition): no running campaign dials it again."""
        for runtime in self.runtimes.values():
            runtime.compliance.add_internal_dnc(phone)

    def callback_scheduled(
        self, campaign_id: int, lead_id: int, at: dt.datetime, agent_id: int | None
    ) -> None:
        """A callback was set on a lead (API): the campaign, when it runs here, dials it then."""
        runtime = self.runtimes.get(campaign_id)
        if runtime is None or runtime.stopped.is_set() or self._loop is None:
            return  # not running here: its next start reads the lead's callback from the database
        # the API calls from its worker threads; the hopper belongs to the loop that ticks it
        self._loop.call_soon_threadsafe(runtime.schedule_callback, lead_id, at, agent_id)

    async def close(self) -> None:
        for runtime in list(self.runtimes.values()):
            if not runtime.stopped.is_set():
                await runtime.stop()
