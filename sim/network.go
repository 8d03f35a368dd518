package sim

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

type vpc struct {
	id     string
	prefix netip.Prefix
	name   string
}

// hex is the VPC ID's hexadecimal part, from which the IDs EC2 reports
// with the VPC (its default security group, DHCP options, CIDR
// association) are derived, so that they are stable across restarts.
func (v *vpc) hex() string { return strings.TrimPrefix(v.id, "vpc-") }

// defaultSG is the VPC's default security group: EC2 puts an ENI created
// without security groups in it.
func (v *vpc) defaultSG() string { return "sg-" + v.hex() }

func (v *vpc) dhcpOptionsID() string { return "dopt-" + v.hex() }

func (v *vpc) cidrAssociationID() string { return "vpc-cidr-assoc-" + v.hex() }

// zone is an Availability Zone and its health as Glue sees it.
type zone struct {
	name, id string
	state    AZState
}

type subnet struct {
	id, name, az, vpcID string
	prefix              netip.Prefix
	tags                map[string]string
	// used maps every address held by an ENI to the ENI's ID.
	used map[netip.Addr]string
	// visibleIPs counts the addresses EC2's AvailableIpAddressCount
	// already subtracts; ENIs of a run join it only after the ENI lag.
	visibleIPs int
}

func (s *subnet) capacity() int     { return usableAddresses(s.prefix) }
func (s *subnet) free() int         { return s.capacity() - len(s.used) }
func (s *subnet) reportedFree() int { return s.capacity() - s.visibleIPs }

// eni is an elastic network interface. It holds IPs of its subnet from
// creation; visible says whether EC2's describe calls show it yet.
type eni struct {
	id, subnetID     string
	description      string
	status           string // available or in-use
	groups           []string
	interfaceType    string
	ips              []netip.Addr
	requesterManaged bool
	visible          bool
	background       bool
	runID            string
	tags             map[string]string
	seq              uint64
	created          time.Time
}

func (r *Region) buildNetwork() error {
	s := r.sc
	p := netip.MustParsePrefix(s.VPC.CIDR)
	r.vpc = &vpc{id: s.VPC.ID, prefix: p, name: s.VPC.Name}
	names := map[string]bool{}
	for _, sn := range s.Subnets {
		names[sn.AZ] = true
	}
	for _, az := range s.AvailabilityZones {
		names[az] = true
	}
	r.azOrder = slices.Sorted(maps.Keys(names))
	for _, name := range r.azOrder {
		r.azs[name] = &zone{name: name, id: zoneID(s.Region, name), state: AZHealthy}
	}
	for _, sn := range s.Subnets {
		tags := maps.Clone(sn.Tags)
		if tags == nil {
			tags = map[string]string{}
		}
		if sn.Name != "" {
			tags["Name"] = sn.Name
		}
		r.subnets[sn.ID] = &subnet{
			id: sn.ID, name: sn.Name, az: sn.AZ, vpcID: s.VPC.ID,
			prefix: netip.MustParsePrefix(sn.CIDR), tags: tags,
			used: map[netip.Addr]string{},
		}
		r.subnetOrder = append(r.subnetOrder, sn.ID)
	}
	for _, b := range s.Background {
		sub := r.subnets[b.Subnet]
		for range b.ENIs {
			if _, err := r.addBackgroundENI(sub); err != nil {
				return fmt.Errorf("background ENIs in %s: %w", sub.id, err)
			}
		}
	}
	return nil
}

// zoneID derives a zone ID such as use1-az1 from the Region and the zone's
// letter. Real zone IDs map to letters differently in every account; a
// stable made-up mapping is enough here.
func zoneID(region, az string) string {
	parts := strings.Split(region, "-")
	abbr := ""
	if len(parts) == 3 && len(parts[0]) >= 2 && parts[1] != "" {
		abbr = parts[0][:2] + parts[1][:1] + parts[2]
	} else {
		abbr = strings.ReplaceAll(region, "-", "")
	}
	letter := az[len(az)-1]
	return fmt.Sprintf("%s-az%d", abbr, int(letter-'a')+1)
}

// ec2Error is an error in EC2's shape (code, message, HTTP status).
type ec2Error struct {
	code, msg string
	status    int
}

func (e *ec2Error) Error() string { return e.code + ": " + e.msg }

// allocIP takes a free address of the subnet, or the given one when valid.
// AWS reserves the first four addresses and the last one of every subnet.
func (r *Region) allocIP(s *subnet, want netip.Addr) (netip.Addr, *ec2Error) {
	base := binary.BigEndian.Uint32(s.prefix.Addr().AsSlice())
	size := uint32(1) << (32 - s.prefix.Bits())
	if want.IsValid() {
		if !want.Is4() || !s.prefix.Contains(want) {
			return netip.Addr{}, &ec2Error{"InvalidParameterValue",
				fmt.Sprintf("Address %s does not fall within the subnet's address range", want), 400}
		}
		off := binary.BigEndian.Uint32(want.AsSlice()) - base
		if off < 4 || off == size-1 {
			return netip.Addr{}, &ec2Error{"InvalidParameterValue",
				fmt.Sprintf("Address %s is reserved by AWS and cannot be assigned", want), 400}
		}
		if _, taken := s.used[want]; taken {
			return netip.Addr{}, &ec2Error{"InvalidIPAddress.InUse",
				fmt.Sprintf("Address %s is in use.", want), 400}
		}
		return want, nil
	}
	if s.free() <= 0 {
		return netip.Addr{}, insufficientAddresses()
	}
	n := size - 5
	k := uint32(r.rngID.IntN(int(n)))
	for i := range n {
		off := 4 + (k+i)%n
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base+off)
		a := netip.AddrFrom4(b)
		if _, taken := s.used[a]; !taken {
			return a, nil
		}
	}
	return netip.Addr{}, insufficientAddresses()
}

func insufficientAddresses() *ec2Error {
	return &ec2Error{"InsufficientFreeAddressesInSubnet",
		"The specified subnet does not have enough free addresses to satisfy the request.", 400}
}

// newENI creates an ENI holding count addresses (the first one primary,
// optionally the given address). It is visible to EC2 at once unless the
// caller says otherwise.
func (r *Region) newENI(s *subnet, count int, primary netip.Addr, visible bool) (*eni, *ec2Error) {
	if count < 1 {
		count = 1
	}
	if s.free() < count {
		return nil, insufficientAddresses()
	}
	e := &eni{
		id: "eni-" + r.hexID(17), subnetID: s.id, status: "in-use",
		interfaceType: "interface", created: r.now, tags: map[string]string{},
		groups: []string{r.vpc.defaultSG()},
	}
	for i := range count {
		want := netip.Addr{}
		if i == 0 {
			want = primary
		}
		a, err := r.allocIP(s, want)
		if err != nil {
			for _, ip := range e.ips {
				delete(s.used, ip)
			}
			return nil, err
		}
		s.used[a] = e.id
		e.ips = append(e.ips, a)
	}
	r.seq++
	e.seq = r.seq
	r.enis[e.id] = e
	if visible {
		r.showENI(e)
	}
	return e, nil
}

// showENI makes an ENI count in EC2's view (describe calls and
// AvailableIpAddressCount).
func (r *Region) showENI(e *eni) {
	if e.visible {
		return
	}
	if _, ok := r.enis[e.id]; !ok {
		return
	}
	e.visible = true
	r.subnets[e.subnetID].visibleIPs += len(e.ips)
}

// deleteENI frees an ENI's addresses in both the real and the reported view.
func (r *Region) deleteENI(e *eni) {
	if _, ok := r.enis[e.id]; !ok {
		return
	}
	s := r.subnets[e.subnetID]
	for _, ip := range e.ips {
		delete(s.used, ip)
	}
	if e.visible {
		s.visibleIPs -= len(e.ips)
	}
	delete(r.enis, e.id)
	// Free IPs: runs queued for "Resource unavailable" may start.
	r.queueDirty = true
}

func (r *Region) addBackgroundENI(s *subnet) (*eni, error) {
	e, err := r.newENI(s, 1, netip.Addr{}, true)
	if err != nil {
		return nil, err
	}
	e.background = true
	e.description = "Background ENI of another workload (simulated IP pressure)"
	return e, nil
}

// Exhaust adds or removes background ENIs in a subnet so that leaveFree IPs
// stay free. It removes only background ENIs: if other ENIs hold more, fewer
// than leaveFree stay free.
func (r *Region) Exhaust(subnetID string, leaveFree int) error {
	defer r.lock()()
	return r.exhaustLocked(subnetID, leaveFree)
}

func (r *Region) exhaustLocked(subnetID string, leaveFree int) error {
	s, ok := r.subnets[subnetID]
	if !ok {
		return fmt.Errorf("exhaust: no subnet %q", subnetID)
	}
	if leaveFree < 0 {
		return fmt.Errorf("exhaust %s: leave_free must not be negative, got %d", subnetID, leaveFree)
	}
	for s.free() > leaveFree {
		if _, err := r.addBackgroundENI(s); err != nil {
			return fmt.Errorf("exhaust %s: %w", subnetID, err)
		}
	}
	if s.free() < leaveFree {
		var bg []*eni
		for _, e := range r.enis {
			if e.background && e.subnetID == subnetID {
				bg = append(bg, e)
			}
		}
		// Newest first, so that repeated exhaust calls undo each other.
		slices.SortFunc(bg, func(a, b *eni) int { return cmp.Compare(b.seq, a.seq) })
		for _, e := range bg {
			if s.free() >= leaveFree {
				break
			}
			r.deleteENI(e)
		}
	}
	r.log.Info("subnet exhausted", "subnet", subnetID, "free", s.free(), "reported_free", s.reportedFree())
	return nil
}

// SetAZState sets the health of an Availability Zone. Runs already in the
// zone fail degraded_failure_after later when it goes down or degrades.
func (r *Region) SetAZState(az string, state AZState) error {
	defer r.lock()()
	return r.setAZStateLocked(az, state)
}

func (r *Region) setAZStateLocked(az string, state AZState) error {
	z, ok := r.azs[az]
	if !ok {
		return fmt.Errorf("set AZ state: no zone %q (zones: %s)", az, strings.Join(r.azOrder, ", "))
	}
	st, err := ParseAZState(string(state))
	if err != nil {
		return fmt.Errorf("set AZ state of %s: %w", az, err)
	}
	z.state = st
	r.queueDirty = true
	r.log.Info("AZ state set", "az", az, "state", st)
	if st == AZHealthy {
		return nil
	}
	for _, run := range r.runOrder {
		if run.az == az && !run.terminal() && run.state != stateStopping {
			r.scheduleLostContact(run)
		}
	}
	return nil
}

// macAddress is the ENI's MAC address: locally administered (02:), the
// rest from the ENI ID's hex digits, so that it is stable and unique.
func (e *eni) macAddress() string {
	h := strings.TrimPrefix(e.id, "eni-") + "0000000000"
	return "02:" + h[0:2] + ":" + h[2:4] + ":" + h[4:6] + ":" + h[6:8] + ":" + h[8:10]
}
