"""Network-level validation of a deployment in ns-3: throughput and delay (papers 003 §VI, 004 §IV).

Papers 003 (RLTOPA) and 004 (EMTAD) judge a UAV position by what the network delivers: each
deployment is simulated in ns-3 with IEEE 802.11ac, the UAV as access point and the users as
stations sending uplink UDP constant-bit-rate traffic, over 30 seeded runs, reporting the
aggregate throughput received by the UAVs (CCDF) and the mean delay (CDF). This module does the
same for any ``deployment.json`` with users, without C++:

* :func:`wifi_network` turns a deployment into a :class:`WifiNetwork`: one BSS per station with
  the users it serves, radio settings from the deployment's scenario (paper 003 Table I, paper 004
  Table II), geometric line of sight between every pair of nodes from the city's buildings, and a
  Wi-Fi channel per station (:func:`wifi_channels`).
* :func:`simulate_run` builds and runs one ns-3 simulation of it (seed ``RngRun = run``) and reads
  FlowMonitor's per-flow statistics; :func:`validate_network` runs many, one forked worker per run
  (the bindings are imported once in the parent: importing costs about 20 s and 0.7 GB; ``fork``
  with one task per child keeps each run's state fresh, so a run's result depends only on its
  number, not on which worker ran it or what ran before).
* :func:`compare` gives the percentage gains at the 50th and 90th percentiles the way paper 003
  reports them; :func:`baseline_deployments` builds paper 003's baselines (``rooftop``: an AP on
  the central roof; ``offset-10m``: the plan moved 10 m left, right, front and behind) and paper
  004's (``fixed-altitude``, ``fixed-users``).

The ns-3 model, link by link
----------------------------
* 802.11ac (``WIFI_STANDARD_80211ac``), ``IdealWifiManager``, 800 ns guard interval unless the
  scenario says 400 (``HtConfiguration/ShortGuardIntervalSupported``), the scenario's spatial
  streams, 0 dBi antennas (``TxGain = RxGain = 0``); stations transmit at ``radio.tx_power_dbm``,
  users at ``radio.user_tx_power_dbm`` (both 20 dBm in the papers).
* Noise: ns-3's thermal noise ``kTB`` (290 K) times the receiver noise figure. When the scenario
  gives a noise floor (papers: -85 dBm), the noise figure is chosen so that the floor over the
  channel width equals it (``NF = floor - 10 log10(k 290 B) - 30``; 6.94 dB on 160 MHz, 15.97 dB on
  20 MHz), never below 0 dB; otherwise the scenario's ``radio.noise_figure_db``.
* Path loss per link, chosen from the city's geometric line of sight: ns-3's own
  ``ItuR1411LosPropagationLossModel`` when the segment between the two nodes crosses no building,
  ``ItuR1411NlosOverRooftopPropagationLossModel`` (ns-3's defaults: urban, large city, rooftops
  20 m, streets 20 m wide at 45°, buildings extending 80 m, 50 m apart) when one does, both with
  ``Frequency = radio.frequency_hz``. An ns-3 channel has one loss model for all its links, so the
  loss of every pair of nodes is computed once by those two models' ``GetLoss`` (the higher node
  first, the order under which ns-3 and :mod:`skycell.radio.pathloss` agree) and stored in a
  ``MatrixPropagationLossModel``: nodes do not move during a run, so this is exactly the loss the
  two models would return on every packet. Propagation delay: constant speed (light).
* Channels (:func:`wifi_channels`): the 5 GHz channel numbers of the scenario's width, closest to
  ``radio.frequency_hz`` first (20 MHz: 52 = 5260 MHz, as close to 5250 MHz as 48; 160 MHz: 50 =
  5250 MHz, paper 003's "Wi-Fi channel 50"). Stations get distinct channels while there are enough
  at that width (two at 160 MHz: 50 and 114), then the list repeats; stations on the same number
  share one ns-3 channel object, so they contend and interfere. ``network.shared_channel: true``
  puts every station on the first one.
* Traffic: every user sends UDP at its demand (``OnOffHelper.SetConstantRate``), ``network.
  packet_size_bytes`` (1400) per packet, to a ``PacketSink`` on its station, from ``1 s +
  U(0, 0.1) s`` (association is over by then; the jitter is drawn from the run's ns-3 stream) for
  ``sim_time_s``; the simulation stops 0.5 s later so that queued packets can arrive. Neighbour
  (ARP) caches are filled before the run (``NeighborCacheHelper``), so no packet is lost to
  address resolution at start-up.
* Users the plan left unserved (no ``serving_station``) associate with the station whose link
  has the least loss, as a real station would, and a note says so.

Measures (FlowMonitor, one flow per user): FlowMonitor counts bytes at the IP layer, so a packet
of ``P`` payload bytes counts ``P + 28`` (IPv4 20 + UDP 8); throughput here is the *application*
payload: ``8 (rx_bytes - 28 rx_packets) / (t_last_rx - t_first_tx)`` bit/s per flow, the
aggregate is their sum (what paper 003 calls the aggregate throughput received by the UAV). The
mean delay of a run is the total delay of every received packet over the number received
(FlowMonitor's ``delaySum / rxPackets`` over all flows: queueing, transmission and propagation).
Lost packets are sent minus received.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.deployment import Deployment

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: 5 GHz channel numbers ns-3 accepts per channel width [MHz] (IEEE 802.11-2020 Annex E).
WIFI_5GHZ_CHANNELS: Final[dict[int, tuple[int, ...]]] = {
    20: (
        *range(36, 65, 4),
        *range(100, 145, 4),
        *range(149, 166, 4),
    ),
    40: (38, 46, 54, 62, 102, 110, 118, 126, 134, 142, 151, 159),
    80: (42, 58, 106, 122, 138, 155),
    160: (50, 114),
}
#: IPv4 (20 bytes) + UDP (8 bytes) headers, counted by FlowMonitor's byte counts.
IP_UDP_HEADER_BYTES: Final[int] = 28
#: Boltzmann constant times 290 K [W/Hz] (ns-3's thermal noise, ``WifiPhy`` interference helper).
KT_290_W_PER_HZ: Final[float] = 1.3803e-23 * 290.0
#: When the applications start [s] (after association), the jitter on it [s], and how long the
#: simulation runs after they stop [s].
APP_START_S: Final[float] = 1.0
APP_START_JITTER_S: Final[float] = 0.1
DRAIN_S: Final[float] = 0.5
#: Traffic time of the warm-up run :func:`validate_network` makes before forking [s].
WARM_UP_S: Final[float] = 1e-3
#: Baselines :func:`baseline_deployments` knows (papers 003 and 004).
BASELINES: Final[tuple[str, ...]] = ("rooftop", "offset-10m", "fixed-altitude", "fixed-users")
#: Percentiles at which :func:`compare` reports gains (paper 003).
GAIN_PERCENTILES: Final[tuple[int, ...]] = (50, 90)


def wifi_channel_center_hz(number: int) -> float:
    """Centre frequency of a 5 GHz Wi-Fi channel number [Hz]: ``5000 + 5 n`` MHz."""
    return (5000.0 + 5.0 * number) * 1e6


def wifi_channels(
    stations: int, width_mhz: int, frequency_hz: float, *, shared: bool = False
) -> list[int]:
    """A 5 GHz channel number per station (see the module docstring).

    Channels of ``width_mhz`` are ordered by distance of their centre to ``frequency_hz`` (ties:
    the higher channel first) and dealt out in turn; with ``shared`` every station gets the first.

    Raises:
        ValueError: ``width_mhz`` is not 20, 40, 80 or 160.
    """
    if width_mhz not in WIFI_5GHZ_CHANNELS:
        raise ValueError(
            f"channel width {width_mhz} MHz is not an 802.11ac width; choose 20, 40, 80 or 160"
        )
    order = sorted(
        WIFI_5GHZ_CHANNELS[width_mhz],
        key=lambda n: (abs(wifi_channel_center_hz(n) - frequency_hz), -n),
    )
    if shared:
        return [order[0]] * stations
    return [order[i % len(order)] for i in range(stations)]


def noise_figure_for_floor_db(noise_floor_dbm: float, bandwidth_hz: float) -> float:
    """Receiver noise figure [dB] that makes ns-3's noise floor ``kTB F`` equal
    ``noise_floor_dbm`` over ``bandwidth_hz`` (at least 0 dB)."""
    thermal_dbm = 10.0 * math.log10(KT_290_W_PER_HZ * bandwidth_hz) + 30.0
    return max(0.0, noise_floor_dbm - thermal_dbm)


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WifiNetwork:
    """Everything one ns-3 run needs, as plain arrays (picklable, no ns-3 objects).

    Attributes:
        station_ids, user_ids: identifiers.
        station_xyz_m: ``(N, 3)`` access points [m].
        user_xyz_m: ``(U, 3)`` users [m].
        demand_bps: ``(U,)`` uplink CBR rate per user [bit/s].
        serving: ``(U,)`` index of each user's station.
        channel: ``(N,)`` Wi-Fi channel number per station.
        los: ``(K, K)`` geometric line of sight between nodes, ``K = N + U``, stations first.
        frequency_hz: carrier of the loss models [Hz].
        channel_width_mhz, guard_interval_ns, spatial_streams: 802.11ac settings.
        station_tx_power_dbm, user_tx_power_dbm: transmit powers [dBm].
        noise_figure_db: receiver noise figure [dB].
        packet_size_bytes: UDP payload [bytes].
        notes: what the builder decided (re-associated users, shared channels).
    """

    station_ids: tuple[str, ...]
    user_ids: tuple[str, ...]
    station_xyz_m: FloatArray
    user_xyz_m: FloatArray
    demand_bps: FloatArray
    serving: IntArray
    channel: IntArray
    los: BoolArray
    frequency_hz: float
    channel_width_mhz: int
    guard_interval_ns: int
    spatial_streams: int
    station_tx_power_dbm: float
    user_tx_power_dbm: float
    noise_figure_db: float
    packet_size_bytes: int
    notes: tuple[str, ...] = ()

    @property
    def offered_load_bps(self) -> float:
        """Sum of the users' demands [bit/s]."""
        return float(self.demand_bps.sum())

    def node_xyz_m(self) -> FloatArray:
        """``(K, 3)`` node positions, stations first [m]."""
        return np.vstack([self.station_xyz_m, self.user_xyz_m])

    def link_loss_db(self) -> FloatArray:
        """``(N, U)`` skycell's ITU-R P.1411 loss of every station-user link [dB]
        (:func:`skycell.radio.pathloss.itu_r_p1411_path_loss_db`; the same numbers ns-3 uses,
        see the cross-check test)."""
        from skycell.radio.pathloss import itu_r_p1411_path_loss_db

        s = self.station_xyz_m[:, None, :]
        u = self.user_xyz_m[None, :, :]
        d = np.linalg.norm(s - u, axis=-1)
        n = self.station_xyz_m.shape[0]
        return itu_r_p1411_path_loss_db(
            d,
            self.frequency_hz,
            los=self.los[:n, n:],
            station_height_m=s[..., 2],
            user_height_m=u[..., 2],
        )


def _node_los(city: City, xyz: FloatArray) -> BoolArray:
    k = xyz.shape[0]
    i, j = np.triu_indices(k, 1)
    los = np.ones((k, k), dtype=bool)
    if i.size:
        v = np.asarray(city.line_of_sight(xyz[i], xyz[j]), dtype=bool)
        los[i, j] = v
        los[j, i] = v
    return los


def wifi_network(deployment: Deployment, city: City | None = None) -> WifiNetwork:
    """The ns-3 network of a deployment (see the module docstring for every choice).

    Raises:
        SkycellError: the deployment has no users, or a user's serving station is unknown, or
            the scenario's radio is not Wi-Fi-compatible (channel width).
    """
    from skycell.plan.pipeline import deployment_city, deployment_scenario

    if not deployment.users:
        raise SkycellError(
            "the deployment has no users, and ns-3 validation simulates the users' uplink "
            "traffic; plan a scenario with `users` or `user_groups` (e.g. "
            "examples/paper003-scenario-a-homogeneous.yaml)"
        )
    scenario = deployment_scenario(deployment)
    city = city if city is not None else deployment_city(deployment)
    radio = scenario.radio
    station_ids = tuple(s.id for s in deployment.stations)
    index = {sid: k for k, sid in enumerate(station_ids)}
    sxyz = deployment.station_xyz_m()
    uxyz = np.array([u.position_m for u in deployment.users], dtype=np.float64).reshape(-1, 3)
    demand = np.array([u.demand_bps for u in deployment.users], dtype=np.float64)
    unknown = sorted(
        {u.serving_station for u in deployment.users if u.serving_station is not None} - set(index)
    )
    if unknown:
        raise SkycellError(
            f"users are served by stations that are not in the deployment: {', '.join(unknown)}"
        )
    los = _node_los(city, np.vstack([sxyz, uxyz]))
    n = sxyz.shape[0]
    notes: list[str] = []
    serving = np.array(
        [-1 if u.serving_station is None else index[u.serving_station] for u in deployment.users],
        dtype=np.int64,
    )
    orphans = np.flatnonzero(serving < 0)
    width = int(radio.channel_width_mhz)
    channel = np.array(
        wifi_channels(n, width, float(radio.frequency_hz), shared=scenario.network.shared_channel),
        dtype=np.int64,
    )
    if radio.noise_floor_dbm is not None:
        nf = noise_figure_for_floor_db(float(radio.noise_floor_dbm), width * 1e6)
    else:
        nf = float(radio.noise_figure_db)
    net = WifiNetwork(
        station_ids=station_ids,
        user_ids=tuple(u.id for u in deployment.users),
        station_xyz_m=sxyz,
        user_xyz_m=uxyz,
        demand_bps=demand,
        serving=serving,
        channel=channel,
        los=los,
        frequency_hz=float(radio.frequency_hz),
        channel_width_mhz=width,
        guard_interval_ns=int(radio.guard_interval_ns),
        spatial_streams=int(radio.spatial_streams),
        station_tx_power_dbm=float(radio.tx_power_dbm),
        user_tx_power_dbm=float(radio.user_tx_power_dbm),
        noise_figure_db=nf,
        packet_size_bytes=int(scenario.network.packet_size_bytes),
    )
    if orphans.size:
        best = np.argmin(net.link_loss_db()[:, orphans], axis=0)
        serving[orphans] = best
        notes.append(
            f"{orphans.size} user(s) the plan left unserved associate with their least-loss "
            "station: "
            + ", ".join(
                f"{net.user_ids[u]}→{station_ids[b]}" for u, b in zip(orphans, best, strict=True)
            )
        )
    if len(set(channel.tolist())) < n:
        notes.append(
            f"{n} stations on {len(set(channel.tolist()))} distinct {width} MHz channel(s) "
            f"({', '.join(map(str, channel.tolist()))}): stations on the same channel contend "
            "and interfere"
        )
    return _replace(net, serving=serving, notes=tuple(notes))


def _replace(net: WifiNetwork, **changes: Any) -> WifiNetwork:
    from dataclasses import replace

    return replace(net, **changes)


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """FlowMonitor's figures of one run, one entry per user (see the module docstring).

    Attributes:
        run: ns-3 ``RngRun``.
        tx_packets, rx_packets: ``(U,)`` packets sent and received.
        rx_payload_bytes: ``(U,)`` application bytes received (IP and UDP headers removed).
        throughput_bps: ``(U,)`` application throughput [bit/s].
        delay_sum_s: ``(U,)`` summed delay of the received packets [s].
        wall_s: wall-clock time of the run [s].
    """

    run: int
    tx_packets: IntArray
    rx_packets: IntArray
    rx_payload_bytes: IntArray
    throughput_bps: FloatArray
    delay_sum_s: FloatArray
    wall_s: float

    @property
    def aggregate_throughput_bps(self) -> float:
        """Sum of the users' throughputs [bit/s]."""
        return float(self.throughput_bps.sum())

    @property
    def mean_delay_s(self) -> float:
        """Mean delay of every received packet [s] (NaN when none arrived)."""
        rx = int(self.rx_packets.sum())
        return float(self.delay_sum_s.sum() / rx) if rx else math.nan

    @property
    def lost_packets(self) -> IntArray:
        """``(U,)`` sent minus received."""
        return self.tx_packets - self.rx_packets

    @property
    def loss_ratio(self) -> float:
        """Lost over sent, all users."""
        tx = int(self.tx_packets.sum())
        return float(self.lost_packets.sum() / tx) if tx else 0.0

    def user_delay_s(self) -> FloatArray:
        """``(U,)`` mean delay per user [s] (NaN for a user with nothing received)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.rx_packets > 0, self.delay_sum_s / self.rx_packets, np.nan)


def simulate_run(network: WifiNetwork, *, run: int, sim_time_s: float) -> RunResult:
    """Build and run one ns-3 simulation of ``network`` with ``RngSeedManager`` seed 1 and
    ``RngRun = run``; return FlowMonitor's per-user figures.

    Runs in this process (imports the bindings if needed) and leaves ns-3's simulator destroyed,
    ready for another run; :func:`validate_network` forks one process per run instead.
    """
    from skycell.validate.ns3_bindings import load_ns3, ns3_itu_r_p1411_model

    if run < 1:
        raise ValueError(f"run={run}: ns-3 run numbers start at 1")
    if not sim_time_s > 0:
        raise ValueError(f"sim_time_s={sim_time_s} must be positive [s]")
    ns = load_ns3()
    t0 = time.perf_counter()
    # Addresses are handed out by a process-wide generator that refuses duplicates: start afresh.
    ns.Ipv4AddressGenerator.Reset()
    ns.RngSeedManager.SetSeed(1)
    ns.RngSeedManager.SetRun(int(run))
    n, u = network.station_xyz_m.shape[0], network.user_xyz_m.shape[0]
    aps = ns.NodeContainer()
    aps.Create(n)
    stas = ns.NodeContainer()
    stas.Create(u)
    nodes = [aps.Get(i) for i in range(n)] + [stas.Get(i) for i in range(u)]
    xyz = network.node_xyz_m()
    mobs = []
    for node, (x, y, z) in zip(nodes, xyz, strict=True):
        m = ns.CreateObject[ns.ConstantPositionMobilityModel]()
        m.SetPosition(ns.Vector(float(x), float(y), float(z)))
        node.AggregateObject(m)
        mobs.append(m)

    los_model = ns3_itu_r_p1411_model(True, network.frequency_hz)
    nlos_model = ns3_itu_r_p1411_model(False, network.frequency_hz)
    node_channel = np.concatenate([network.channel, network.channel[network.serving]])
    channels: dict[int, Any] = {}
    for number in sorted(set(network.channel.tolist())):
        members = np.flatnonzero(node_channel == number)
        matrix = ns.CreateObject[ns.MatrixPropagationLossModel]()
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                hi, lo = (a, b) if xyz[a, 2] >= xyz[b, 2] else (b, a)
                model = los_model if network.los[hi, lo] else nlos_model
                matrix.SetLoss(mobs[hi], mobs[lo], float(model.GetLoss(mobs[hi], mobs[lo])), True)
        ch = ns.CreateObject[ns.YansWifiChannel]()
        ch.SetPropagationLossModel(matrix)
        ch.SetPropagationDelayModel(ns.CreateObject[ns.ConstantSpeedPropagationDelayModel]())
        channels[number] = ch

    wifi = ns.WifiHelper()
    wifi.SetStandard(ns.WIFI_STANDARD_80211ac)
    wifi.SetRemoteStationManager("ns3::IdealWifiManager")
    stack = ns.InternetStackHelper()
    stack.Install(aps)
    stack.Install(stas)
    address = ns.Ipv4AddressHelper()
    sta_ip: list[Any] = [None] * u
    ap_ip: list[Any] = [None] * n
    for s in range(n):
        number = int(network.channel[s])
        phy = ns.YansWifiPhyHelper()
        phy.SetChannel(channels[number])
        phy.Set(
            "ChannelSettings",
            ns.StringValue(f"{{{number}, {network.channel_width_mhz}, BAND_5GHZ, 0}}"),
        )
        phy.Set("TxGain", ns.DoubleValue(0.0))
        phy.Set("RxGain", ns.DoubleValue(0.0))
        phy.Set("RxNoiseFigure", ns.DoubleValue(network.noise_figure_db))
        streams = int(network.spatial_streams)
        phy.Set("Antennas", ns.UintegerValue(streams))
        phy.Set("MaxSupportedTxSpatialStreams", ns.UintegerValue(streams))
        phy.Set("MaxSupportedRxSpatialStreams", ns.UintegerValue(streams))
        ssid = ns.Ssid(f"skycell-{s}")
        mac = ns.WifiMacHelper()
        members = np.flatnonzero(network.serving == s)
        group = ns.NodeContainer()
        for m_idx in members:
            group.Add(stas.Get(int(m_idx)))
        for attr in ("TxPowerStart", "TxPowerEnd"):
            phy.Set(attr, ns.DoubleValue(network.user_tx_power_dbm))
        mac.SetType("ns3::StaWifiMac", "Ssid", ns.SsidValue(ssid))
        sta_dev = wifi.Install(phy, mac, group)
        for attr in ("TxPowerStart", "TxPowerEnd"):
            phy.Set(attr, ns.DoubleValue(network.station_tx_power_dbm))
        mac.SetType("ns3::ApWifiMac", "Ssid", ns.SsidValue(ssid))
        ap_dev = wifi.Install(phy, mac, aps.Get(s))
        address.SetBase(
            ns.Ipv4Address(f"10.{1 + s // 250}.{s % 250}.0"), ns.Ipv4Mask("255.255.255.0")
        )
        ap_if = address.Assign(ap_dev)
        sta_if = address.Assign(sta_dev)
        ap_ip[s] = ap_if.GetAddress(0)
        for j, m_idx in enumerate(members):
            sta_ip[int(m_idx)] = sta_if.GetAddress(j)
    ns.Config.Set(
        "/NodeList/*/DeviceList/*/$ns3::WifiNetDevice/HtConfiguration/ShortGuardIntervalSupported",
        ns.BooleanValue(network.guard_interval_ns == 400),
    )
    ns.NeighborCacheHelper().PopulateNeighborCache()

    jitter = ns.CreateObject[ns.UniformRandomVariable]()
    stop = APP_START_S + APP_START_JITTER_S + sim_time_s
    port_of: dict[int, int] = {}
    for k in range(u):
        port = 9000 + k
        port_of[port] = k
        s = int(network.serving[k])
        sink = ns.PacketSinkHelper(
            "ns3::UdpSocketFactory",
            ns.InetSocketAddress(ns.Ipv4Address.GetAny(), port).ConvertTo(),
        )
        sink.Install(aps.Get(s)).Start(ns.Seconds(0.0))
        if network.demand_bps[k] <= 0:
            continue
        onoff = ns.OnOffHelper(
            "ns3::UdpSocketFactory", ns.InetSocketAddress(ap_ip[s], port).ConvertTo()
        )
        onoff.SetConstantRate(
            ns.DataRate(round(float(network.demand_bps[k]))), network.packet_size_bytes
        )
        apps = onoff.Install(stas.Get(k))
        start = APP_START_S + jitter.GetValue(0.0, APP_START_JITTER_S)
        apps.Start(ns.Seconds(start))
        apps.Stop(ns.Seconds(start + sim_time_s))

    flow_helper = ns.FlowMonitorHelper()
    monitor = flow_helper.InstallAll()
    ns.Simulator.Stop(ns.Seconds(stop + DRAIN_S))
    ns.Simulator.Run()
    monitor.CheckForLostPackets()
    classifier = ns.DynamicCast[ns.Ipv4FlowClassifier](flow_helper.GetClassifier())
    tx = np.zeros(u, dtype=np.int64)
    rx = np.zeros(u, dtype=np.int64)
    payload = np.zeros(u, dtype=np.int64)
    thr = np.zeros(u, dtype=np.float64)
    delay = np.zeros(u, dtype=np.float64)
    for flow_id, st in monitor.GetFlowStats():
        user = port_of.get(int(classifier.FindFlow(flow_id).destinationPort))
        if user is None:
            continue
        k = user
        tx[k] += int(st.txPackets)
        rx[k] += int(st.rxPackets)
        pb = int(st.rxBytes) - IP_UDP_HEADER_BYTES * int(st.rxPackets)
        payload[k] += pb
        span = st.timeLastRxPacket.GetSeconds() - st.timeFirstTxPacket.GetSeconds()
        if st.rxPackets > 0 and span > 0:
            thr[k] += 8.0 * pb / span
        delay[k] += st.delaySum.GetSeconds()
    ns.Simulator.Destroy()
    return RunResult(
        run=int(run),
        tx_packets=tx,
        rx_packets=rx,
        rx_payload_bytes=payload,
        throughput_bps=thr,
        delay_sum_s=delay,
        wall_s=time.perf_counter() - t0,
    )


# ---------------------------------------------------------------------------------------------
# Many runs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ns3Validation:
    """The runs of one deployment.

    Attributes:
        label: name shown in tables and plots.
        network: the simulated :class:`WifiNetwork`.
        runs: one :class:`RunResult` per run, in run order.
        sim_time_s: traffic duration of each run [s].
        wall_s: wall-clock time of all runs [s].
    """

    label: str
    network: WifiNetwork
    runs: tuple[RunResult, ...]
    sim_time_s: float
    wall_s: float = 0.0

    def aggregate_throughput_bps(self) -> FloatArray:
        """``(R,)`` aggregate throughput per run [bit/s]."""
        return np.array([r.aggregate_throughput_bps for r in self.runs], dtype=np.float64)

    def mean_delay_s(self) -> FloatArray:
        """``(R,)`` mean delay per run [s]."""
        return np.array([r.mean_delay_s for r in self.runs], dtype=np.float64)

    def loss_ratio(self) -> FloatArray:
        """``(R,)`` lost over sent per run."""
        return np.array([r.loss_ratio for r in self.runs], dtype=np.float64)

    def summary(self) -> dict[str, Any]:
        """Medians and percentiles over the runs (JSON-friendly, Mbit/s and ms)."""
        thr = self.aggregate_throughput_bps() / 1e6
        dly = self.mean_delay_s() * 1e3
        offered = self.network.offered_load_bps / 1e6
        return {
            "label": self.label,
            "runs": len(self.runs),
            "users": len(self.network.user_ids),
            "stations": len(self.network.station_ids),
            "users_in_los": int(self._served_los().sum()),
            "offered_mbps": offered,
            "throughput_mbps": _percentiles(thr),
            "throughput_over_offered": float(np.median(thr) / offered) if offered else math.nan,
            "delay_ms": _percentiles(dly),
            "loss_ratio_median": float(np.median(self.loss_ratio())) if self.runs else math.nan,
            "sim_time_s": self.sim_time_s,
            "wall_s": self.wall_s,
        }

    def _served_los(self) -> BoolArray:
        n = len(self.network.station_ids)
        u = np.arange(len(self.network.user_ids))
        return np.asarray(self.network.los[self.network.serving, n + u], dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        """Summary plus every run's per-user figures (JSON-friendly)."""
        net = self.network
        return {
            **self.summary(),
            "notes": list(net.notes),
            "stations": [
                {"id": sid, "position_m": net.station_xyz_m[k].tolist(), "channel": int(c)}
                for k, (sid, c) in enumerate(zip(net.station_ids, net.channel, strict=True))
            ],
            "users": [
                {
                    "id": uid,
                    "position_m": net.user_xyz_m[k].tolist(),
                    "demand_bps": float(net.demand_bps[k]),
                    "station": net.station_ids[int(net.serving[k])],
                    "los": bool(self._served_los()[k]),
                }
                for k, uid in enumerate(net.user_ids)
            ],
            "per_run": [
                {
                    "run": r.run,
                    "aggregate_throughput_bps": r.aggregate_throughput_bps,
                    "mean_delay_s": _finite(r.mean_delay_s),
                    "tx_packets": r.tx_packets.tolist(),
                    "rx_packets": r.rx_packets.tolist(),
                    "throughput_bps": r.throughput_bps.tolist(),
                    "user_delay_s": [_finite(x) for x in r.user_delay_s()],
                    "wall_s": r.wall_s,
                }
                for r in self.runs
            ],
        }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _pct(x: FloatArray, q: float) -> float:
    """``q``-th percentile of the finite values (NaN when there are none)."""
    x = x[np.isfinite(x)]
    return float(np.percentile(x, q)) if x.size else math.nan


def _percentiles(x: FloatArray) -> dict[str, float | None]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"p10": None, "p50": None, "p90": None, "mean": None}
    p = np.percentile(x, [10, 50, 90])
    return {"p10": float(p[0]), "p50": float(p[1]), "p90": float(p[2]), "mean": float(x.mean())}


def _worker(args: tuple[WifiNetwork, int, float]) -> RunResult:
    network, run, sim_time_s = args
    return simulate_run(network, run=run, sim_time_s=sim_time_s)


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def validate_network(
    network: WifiNetwork,
    *,
    runs: int | Sequence[int] = 30,
    sim_time_s: float = 10.0,
    workers: int | None = None,
    label: str = "deployment",
    progress: Callable[[int, int], None] | None = None,
) -> Ns3Validation:
    """Simulate ``network`` for several seeded runs, one forked process per run.

    The bindings are imported here once (about 20 s) and inherited by every child through
    ``fork``; each child runs exactly one simulation (``maxtasksperchild=1``), so a run's result
    depends only on its number. ``workers=1`` forks too (same results), and up to ``workers``
    runs go at once.

    Args:
        network: from :func:`wifi_network`.
        runs: number of runs (``RngRun = 1..runs``) or the run numbers themselves.
        sim_time_s: traffic duration per run [s].
        workers: parallel processes (default: all cores).
        label: name for tables and plots.
        progress: ``progress(done, total)`` after each run.

    Raises:
        ImportError: the ``ns3`` extra is missing.
        ValueError: no runs, a run number below 1, or a non-positive time.
    """
    from skycell.validate.ns3_bindings import load_ns3

    numbers = list(range(1, int(runs) + 1)) if isinstance(runs, int) else [int(r) for r in runs]
    if not numbers or min(numbers) < 1:
        raise ValueError(f"runs={runs!r}: give at least one run, numbered from 1")
    if not sim_time_s > 0:
        raise ValueError(f"sim_time_s={sim_time_s} must be positive [s]")
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers={workers} must be at least 1")
    load_ns3()
    t0 = time.perf_counter()
    # Warm-up: one run of a millisecond in this process makes cppyy compile every wrapper the
    # runs need (several seconds), once, before the children inherit them through fork.
    simulate_run(network, run=1, sim_time_s=WARM_UP_S)
    ctx = mp.get_context("fork")
    results: dict[int, RunResult] = {}
    with ctx.Pool(processes=min(workers, len(numbers)), maxtasksperchild=1) as pool:
        tasks = [(network, r, float(sim_time_s)) for r in numbers]
        for res in pool.imap_unordered(_worker, tasks, chunksize=1):
            results[res.run] = res
            if progress is not None:
                progress(len(results), len(numbers))
    return Ns3Validation(
        label=label,
        network=network,
        runs=tuple(results[r] for r in numbers),
        sim_time_s=float(sim_time_s),
        wall_s=time.perf_counter() - t0,
    )


def compare(ours: Ns3Validation, baseline: Ns3Validation) -> dict[str, float]:
    """Paper 003's gains of ``ours`` over ``baseline`` [%], at the 50th and 90th percentiles
    over the runs: throughput ``100 (T_ours / T_base - 1)`` (positive: more), delay
    ``100 (1 - D_ours / D_base)`` (positive: less delay)."""
    out: dict[str, float] = {}
    t_o, t_b = ours.aggregate_throughput_bps(), baseline.aggregate_throughput_bps()
    d_o, d_b = ours.mean_delay_s(), baseline.mean_delay_s()
    for q in GAIN_PERCENTILES:
        tb, to, db, do = (_pct(x, q) for x in (t_b, t_o, d_b, d_o))
        out[f"throughput_gain_p{q}_pct"] = (
            100.0 * (to / tb - 1.0) if tb > 0 else (math.inf if to > 0 else math.nan)
        )
        out[f"delay_reduction_p{q}_pct"] = 100.0 * (1.0 - do / db) if db > 0 else math.nan
    return out


# ---------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------

#: Paper 003's four positions 10 m off the optimum: label -> (dx, dy) [m].
OFFSETS_10M: Final[dict[str, tuple[float, float]]] = {
    "left": (-10.0, 0.0),
    "right": (10.0, 0.0),
    "front": (0.0, 10.0),
    "behind": (0.0, -10.0),
}


def baseline_deployments(
    deployment: Deployment, kind: str, *, city: City | None = None
) -> tuple[list[tuple[str, Deployment]], list[str]]:
    """Baseline deployments for the same users (papers 003 §VI-C and 004 §IV).

    ``rooftop``: paper 003's stationary AP on the roof of the building at the venue centre (the
    ``rooftop`` method). ``offset-10m``: every station moved 10 m left, right, front (+y) and
    behind (-y), paper 003's positions P1-P4 (positions inside a building are skipped, with a
    note). ``fixed-altitude`` / ``fixed-users``: paper 004's baselines, planned for the
    deployment's scenario.

    Returns:
        ``([(label, deployment), ...], notes)``.

    Raises:
        ValueError: unknown kind.
        SkycellError: the baseline cannot be planned here (e.g. rooftop without buildings).
    """
    from skycell.plan.pipeline import deployment_city, deployment_scenario, plan_scenario

    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}")
    city = city if city is not None else deployment_city(deployment)
    notes: list[str] = []
    if kind == "offset-10m":
        out: list[tuple[str, Deployment]] = []
        xyz = deployment.station_xyz_m()
        for name, (dx, dy) in OFFSETS_10M.items():
            moved = xyz + np.array([dx, dy, 0.0])
            inside = np.asarray(city.inside_building(moved), dtype=bool)
            if inside.any():
                notes.append(f"offset {name} puts a station inside a building; skipped")
                continue
            stations = [
                s.model_copy(update={"position_m": tuple(float(v) for v in p), "route_m": []})
                for s, p in zip(deployment.stations, moved, strict=True)
            ]
            out.append((f"{name} 10 m", deployment.model_copy(update={"stations": stations})))
        return out, notes
    scenario = deployment_scenario(deployment)
    seed = int(deployment.method.get("seed", 0) or 0)
    plan = plan_scenario(scenario, seed=seed, city=city, method=kind).deployment
    mine = {u.id: u.position_m for u in deployment.users}
    theirs = {u.id: u.position_m for u in plan.users}
    if mine != theirs:
        notes.append(
            f"the {kind} baseline was planned for the scenario's users, which differ from the "
            "deployment's (edited by hand?)"
        )
    return [(kind, plan)], notes


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------


def plot_validations(
    validations: Sequence[Ns3Validation],
    throughput_png: str | os.PathLike[str],
    delay_png: str | os.PathLike[str],
) -> None:
    """Paper 003 Figs. 4-9 (b, c): the CCDF of the aggregate throughput and the CDF of the mean
    delay over the runs, one curve per deployment (a deployment whose users received nothing
    has no delay curve and says so in the legend). Both figures are drawn before either file is
    written."""
    import matplotlib

    matplotlib.use("Agg")
    from pathlib import Path

    import matplotlib.pyplot as plt

    from skycell.fileio import atomic_write

    def ecdf(x: FloatArray) -> tuple[FloatArray, FloatArray]:
        x = np.sort(x[np.isfinite(x)])
        return x, np.arange(1, x.size + 1) / max(x.size, 1)

    figs = []
    for what in ("throughput", "delay"):
        fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=120)
        for v in validations:
            if what == "throughput":
                x, p = ecdf(v.aggregate_throughput_bps() / 1e6)
                y = 1.0 - p
                first = 1.0
            else:
                x, p = ecdf(v.mean_delay_s() * 1e3)
                y, first = p, 0.0
            if x.size == 0:
                ax.plot([], [], label=f"{v.label} (no packet received)")
                continue
            ax.step(np.r_[x[0], x], np.r_[first, y], where="post", label=v.label)
        if what == "throughput":
            offered = validations[0].network.offered_load_bps / 1e6 if validations else 0.0
            if offered > 0:
                ax.axvline(offered, color="0.5", ls=":", lw=1, label="offered load")
            ax.set_xlabel("aggregate throughput [Mbit/s]")
            ax.set_ylabel("CCDF  P(X > x)")
            ax.set_title("aggregate throughput received by the stations")
        else:
            ax.set_xlabel("mean delay [ms]")
            ax.set_ylabel("CDF  P(X ≤ x)")
            ax.set_title("mean packet delay")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        figs.append(fig)
    try:
        for fig, path in zip(figs, (throughput_png, delay_png), strict=True):
            _save(fig, Path(os.fspath(path)), atomic_write)
    finally:
        for fig in figs:
            plt.close(fig)


def _save(fig: Any, target: Any, atomic_write: Any) -> None:
    atomic_write(target, lambda tmp: fig.savefig(tmp, format="png"))


# ---------------------------------------------------------------------------------------------
# The whole experiment (skycell validate --ns3)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ns3Experiment:
    """A deployment and what it is compared with, each simulated for the same runs.

    Attributes:
        validations: the deployment first, then each comparison.
        gains: per comparison label, :func:`compare` of the deployment over it.
        notes: what the builders decided (baselines skipped, users re-associated, ...).
    """

    validations: tuple[Ns3Validation, ...]
    gains: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: every validation with its runs, and the gains."""
        return {
            "deployments": [v.to_dict() for v in self.validations],
            "gains_over": {k: {n: _finite(x) for n, x in g.items()} for k, g in self.gains.items()},
            "notes": list(self.notes),
        }

    def runs_csv(self) -> str:
        """One row per deployment and run: aggregate throughput, mean delay, lost packets."""
        lines = ["deployment,run,aggregate_throughput_mbps,mean_delay_ms,sent,received,lost"]
        for v in self.validations:
            for r in v.runs:
                lines.append(
                    f"{_csv(v.label)},{r.run},{r.aggregate_throughput_bps / 1e6:.4f},"
                    f"{r.mean_delay_s * 1e3:.4f},{int(r.tx_packets.sum())},"
                    f"{int(r.rx_packets.sum())},{int(r.lost_packets.sum())}"
                )
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | os.PathLike[str]) -> list[str]:
        """Write ``ns3.json``, ``runs.csv``, ``throughput-ccdf.png`` and ``delay-cdf.png``
        (each atomically) into ``out_dir``; returns their paths."""
        import json
        from pathlib import Path

        from skycell.fileio import atomic_write_text

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / n for n in ("ns3.json", "runs.csv", "throughput-ccdf.png", "delay-cdf.png")]
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        plot_validations(self.validations, paths[2], paths[3])
        atomic_write_text(paths[0], text)
        atomic_write_text(paths[1], self.runs_csv())
        return [str(p) for p in paths]


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text


def run_experiment(
    deployment: Deployment,
    *,
    label: str = "plan",
    compare_with: Sequence[tuple[str, Deployment]] = (),
    baseline: str | None = None,
    runs: int | None = None,
    sim_time_s: float | None = None,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> Ns3Experiment:
    """Simulate a deployment and its comparisons in ns-3 (``skycell validate --ns3``).

    Args:
        deployment: the plan (it needs users).
        label: its name in tables and plots.
        compare_with: other deployments ``(label, deployment)`` for the same users.
        baseline: also build and simulate one of :data:`BASELINES`.
        runs, sim_time_s: default to the scenario's ``network.runs`` and ``network.sim_time_s``.
        workers: parallel runs (default: all cores).
        progress: ``progress(label, done, total)`` after each run.
        status: ``status(message)`` for slow steps (importing ns-3, planning a baseline).

    Raises:
        SkycellError: a deployment without users, or a baseline that cannot be planned.
        ImportError: the ``ns3`` extra is missing.
    """
    from skycell.plan.pipeline import deployment_city, deployment_scenario
    from skycell.validate.ns3_bindings import load_ns3

    def say(text: str) -> None:
        if status is not None:
            status(text)

    scenario = deployment_scenario(deployment)
    runs = int(scenario.network.runs if runs is None else runs)
    sim_time_s = float(scenario.network.sim_time_s if sim_time_s is None else sim_time_s)
    city = deployment_city(deployment)
    notes: list[str] = []
    others = list(compare_with)
    if baseline is not None:
        say(f"planning the {baseline} baseline")
        extra, why = baseline_deployments(deployment, baseline, city=city)
        others += extra
        notes += why
    networks = [(label, wifi_network(deployment, city))]
    for name, dep in others:
        networks.append((name, wifi_network(dep, deployment_city(dep))))
    for name, net in networks:
        notes += [f"{name}: {n}" for n in net.notes]
    say("importing the ns-3 bindings (about 20 s, once)")
    load_ns3()
    done: list[Ns3Validation] = []
    for name, net in networks:

        def tick(k: int, total: int, name: str = name) -> None:
            if progress is not None:
                progress(name, k, total)

        done.append(
            validate_network(
                net, runs=runs, sim_time_s=sim_time_s, workers=workers, label=name, progress=tick
            )
        )
    gains = {v.label: compare(done[0], v) for v in done[1:]}
    return Ns3Experiment(validations=tuple(done), gains=gains, notes=tuple(notes))


def experiment_tables(
    exp: Ns3Experiment,
) -> list[tuple[str, list[str], list[list[str]]]]:
    """``(title, columns, rows)`` tables: per deployment, the runs' percentiles; then the gains
    of the first deployment over each other one (paper 003's way)."""

    def f(x: float | None, digits: int = 1) -> str:
        if x is None or math.isnan(x):
            return "—"
        return ("+∞" if x > 0 else "-∞") if math.isinf(x) else f"{x:.{digits}f}"

    rows = []
    for v in exp.validations:
        s = v.summary()
        t, d = s["throughput_mbps"], s["delay_ms"]
        rows.append(
            [
                v.label,
                f"{s['stations']}",
                f"{s['users_in_los']}/{s['users']}",
                f(s["offered_mbps"]),
                f"{f(t['p10'])} / {f(t['p50'])} / {f(t['p90'])}",
                f(100.0 * s["throughput_over_offered"]),
                f"{f(d['p50'], 2)} / {f(d['p90'], 2)}",
                f(100.0 * s["loss_ratio_median"], 2),
            ]
        )
    first = exp.validations[0]
    tables = [
        (
            f"ns-3: {len(first.runs)} runs of {first.sim_time_s:g} s per deployment",
            [
                "deployment",
                "UAVs",
                "users in LoS",
                "offered [Mbit/s]",
                "throughput p10 / p50 / p90 [Mbit/s]",
                "p50 / offered [%]",
                "delay p50 / p90 [ms]",
                "lost [%]",
            ],
            rows,
        )
    ]
    if exp.gains:
        tables.append(
            (
                f"gains of {first.label} over each comparison",
                [
                    "over",
                    "throughput Δ p50 %",
                    "throughput Δ p90 %",
                    "delay Δ p50 %",
                    "delay Δ p90 %",
                ],
                [
                    [
                        k,
                        f(g["throughput_gain_p50_pct"], 0),
                        f(g["throughput_gain_p90_pct"], 0),
                        f(-g["delay_reduction_p50_pct"], 0),
                        f(-g["delay_reduction_p90_pct"], 0),
                    ]
                    for k, g in exp.gains.items()
                ],
            )
        )
    return tables
